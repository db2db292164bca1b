"""What a reload may not change under a purchaser's record without `--accept-changes`: its price,
shares and warrant shares after money came in (even by taking the purchaser off Schedule 1 and
putting it back), and a detail a done step was carried out with. A change the reload makes names
the details it changes, never their values."""

from __future__ import annotations

from pathlib import Path

from closing.domain.errors import ExitCode
from tests.helpers import Cli

FRI = "2002-06-07T{}:00-07:00"
BNC = "  - name: BNC Bach International, Ltd.\n"


def reload(cli: Cli, path: Path, at: str, *extra: str) -> tuple[int, str, str]:
    result = cli("init", str(path), *extra, now=FRI.format(at))
    return result.code, result.out, result.err


def more_shares(path: Path) -> None:
    """BNC buys $940,000 instead of $930,000: 4,043,010 shares and 404,301 warrant shares."""
    path.write_text(
        path.read_text()
        .replace("shares: 4,000,000", "shares: 4,043,010")
        .replace("purchase_price: $930,000", "purchase_price: $940,000")
        .replace("warrant_shares: 400,000", "warrant_shares: 404,301")
    )


def test_shares_changed_after_the_wire_are_asked(seeded: Cli, seed_path: Path) -> None:
    """BNC wired for 4,000,000 shares: a reload giving it more is asked, its shares and warrant
    shares named beside its price."""
    assert seeded("mark-signed", "bnc", now=FRI.format("08:30")).code == 0
    assert seeded("mark-wired", "bnc", now=FRI.format("08:40")).code == 0
    more_shares(seed_path)
    code, _, err = reload(seeded, seed_path, "09:00")
    assert code == ExitCode.REFUSED
    paid = "after $930,000.00 was recorded as received"
    assert f"  - BNC Bach International, Ltd.: shares 4,000,000 -> 4,043,010 {paid}" in err
    assert f"  - BNC Bach International, Ltd.: warrant shares 400,000 -> 404,301 {paid}" in err
    code, out, err = reload(seeded, seed_path, "09:01", "--accept-changes")
    assert code == 0, err
    assert "BNC Bach International, Ltd.: shares 4000000 -> 4043010" in out


def test_shares_and_names_of_a_purchaser_not_yet_paid_change_freely(
    seeded: Cli, seed_path: Path
) -> None:
    """Before money comes in, a purchaser's terms follow the deal file, as its price does; a
    name fixed (its slug keeping its record) changes freely at any time."""
    assert seeded("mark-signed", "bnc", now=FRI.format("08:30")).code == 0
    more_shares(seed_path)
    seed_path.write_text(
        seed_path.read_text().replace("BNC Bach International, Ltd.", "BNC Bach International Ltd")
    )
    code, out, err = reload(seeded, seed_path, "09:00")
    assert code == 0, err
    assert "name BNC Bach International, Ltd. -> BNC Bach International Ltd" in out


def with_dwac(path: Path, account: str) -> None:
    text = path.read_text()
    start = text.index(BNC)
    tail = text[start:]
    tail = tail.replace(
        "dwac: {dtc_number: , account_number: , reference: }",
        f"dwac: {{dtc_number: '0352', account_number: '{account}', reference: }}",
        1,
    ).replace(
        "notices: {attention: , address: , facsimile: }",
        "notices: {attention: , address: , facsimile: ''}",
        1,
    )
    path.write_text(text[:start] + tail)


def test_a_dwac_account_changed_after_the_credit_is_asked(cli: Cli, seed_path: Path) -> None:
    """BNC's shares were credited to account 111-111: the file then giving 999-999 is asked, and
    neither number is shown; a blank facsimile filled in later is not (no done step used it)."""
    with_dwac(seed_path, "111-111")
    assert reload(cli, seed_path, "07:00")[0] == 0
    for args in [
        ("mark", "company", "prospectus_delivered"),
        ("mark-signed", "bnc"),
        ("mark-wired", "bnc"),
        ("mark-dwac", "bnc", "--confirmation", "DTC 1"),
    ]:
        done = cli(*args, now=FRI.format("08:00"))
        assert done.code == 0, done.err
    original = seed_path.read_text()
    seed_path.write_text(original.replace("'111-111'", "'999-999'"))
    with_fax = seed_path.read_text().replace("facsimile: ''}", "facsimile: '+1 212 555 0100'}")
    seed_path.write_text(with_fax)
    code, out, err = reload(cli, seed_path, "09:00")
    assert code == ExitCode.REFUSED
    assert (
        "  - BNC Bach International, Ltd.: DWAC account number changed after dwac_credited was "
        "recorded done with the one before\n"
    ) in err
    assert "notices.facsimile" not in err  # asked only of what a done step used
    code, out, err = reload(cli, seed_path, "09:01", "--accept-changes")
    assert code == 0, err
    assert (
        "BNC Bach International, Ltd.: details changed (dwac.account_number, notices.facsimile)"
        in out
    )
    for shown in (out, err):
        assert "999" not in shown and "111-111" not in shown


def test_a_purchaser_put_back_at_another_price_after_its_wire_is_asked(
    seeded: Cli, seed_path: Path
) -> None:
    """Taking a paid purchaser off Schedule 1 (accepted) and putting it back at another price
    is the price change it is: asked, not a new purchaser."""
    seeded("mark-signed", "bnc", now=FRI.format("08:30"))
    seeded("mark-wired", "bnc", now=FRI.format("08:40"))
    text = seed_path.read_text()
    bnc = text[text.index(BNC) :]
    seed_path.write_text(text.replace(bnc, ""))
    assert reload(seeded, seed_path, "09:00", "--accept-changes")[0] == 0
    seed_path.write_text(text)
    more_shares(seed_path)
    code, _, err = reload(seeded, seed_path, "09:10")
    assert code == ExitCode.REFUSED
    assert (
        "  - BNC Bach International, Ltd.: purchase price $930,000.00 -> $940,000.00 after "
        "$930,000.00 was recorded as received\n"
    ) in err


def test_a_payment_short_of_a_price_raised_after_it_is_not_within_the_tolerance(
    seeded: Cli, seed_path: Path
) -> None:
    seeded("mark-signed", "bnc", now=FRI.format("08:30"))
    seeded("mark-wired", "bnc", now=FRI.format("08:40"))
    more_shares(seed_path)
    assert reload(seeded, seed_path, "09:00", "--accept-changes")[0] == 0
    board = seeded("status", now=FRI.format("09:05")).out
    assert "Short: BNC Bach International, Ltd.: $10,000.00 short of $940,000.00\n" in board
    assert "within the tolerance" not in board
