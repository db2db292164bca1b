"""Small real files of the seed closing, made by the tests: signature pages, a countersigned page,
a warrant, a fax confirmation (PDFs made with pypdf, each with its own title so its bytes differ)
and an image scan (a PNG made with Pillow)."""

from __future__ import annotations

from pathlib import Path


def pdf(path: Path, title: str, pages: int = 1) -> Path:
    """A PDF of `pages` letter-size pages whose metadata title is `title`."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    writer.add_metadata({"/Title": title})
    with path.open("wb") as out:
        writer.write(out)
    return path


def png(path: Path, size: tuple[int, int] = (200, 260)) -> Path:
    """A scan: a grey page with a dark signature line."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).line(
        (20, size[1] - 40, size[0] - 20, size[1] - 40), fill="black", width=3
    )
    image.save(path, format="PNG")
    return path


def closing_files(folder: Path) -> dict[str, Path]:
    """The files of the seed closing, by what they are."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "stonestreet_page": pdf(folder / "stonestreet-signature-page.pdf", "Stonestreet signs"),
        "stonestreet_counter": pdf(folder / "spa-countersigned-stonestreet.pdf", "Gulko signs", 2),
        "bnc_page": png(folder / "bnc-bach-page-scan.png"),
        "bnc_counter": pdf(folder / "spa-countersigned-bnc.pdf", "Gulko signs BNC", 2),
        "warrant_w1": pdf(folder / "warrant-W-1.pdf", "Warrant W-1", 3),
        "fax_confirmation": pdf(folder / "fax-confirmation-W-1.pdf", "Fax sent 14:02"),
        "prospectus": pdf(folder / "prospectus-supplement-424b5.pdf", "Prospectus supplement", 2),
    }
