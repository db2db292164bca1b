"""SSH signatures through OpenSSH's own `ssh-keygen -Y` (as git signs with SSH keys): the
operator's key from a file or from ssh-agent (`--key key.pub`, or a private key the agent holds,
so a key's passphrase stays with the agent), the standard SSHSIG format, and allowed_signers
files as OpenSSH reads them. Every failure is one line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from closing.domain.errors import RecordBrokenError, UsageError
from closing.domain.seal import NAMESPACE

_MISSING = "ssh-keygen (OpenSSH) is not installed; seals need it: install openssh-client"


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise UsageError(_MISSING)
    return found


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no reason given"


def sign_file(path: Path, key: Path) -> Path:
    """Sign the file at `path` with `key` (a private key file, or a public key whose private
    half ssh-agent holds) into `path.sig` (armored SSHSIG), as `ssh-keygen -Y sign` does by hand.
    A passphrase is asked on the terminal, as ssh-keygen asks it, when neither the agent nor the
    file can sign without one."""
    if not key.is_file():
        raise UsageError(f"no SSH key at {key}")
    # ssh-keygen asks for a passphrase on the controlling terminal (/dev/tty) when there is one;
    # standard input (a pipe, a file) is never its to read one from.
    done = subprocess.run(
        [_ssh_keygen(), "-Y", "sign", "-q", "-f", str(key), "-n", NAMESPACE, str(path)],
        capture_output=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    signature = path.with_name(path.name + ".sig")
    if done.returncode != 0 or not signature.is_file():
        reason = _last_line(done.stderr).removeprefix("Enter passphrase: ")
        raise UsageError(
            f"ssh-keygen could not sign with {key}: {reason} "
            "(a key with a passphrase: ssh-add it to ssh-agent)"
        )
    return signature


def allowed_principal(text: str, signature: Path, allowed_signers: Path) -> str:
    """The principal of `allowed_signers` whose key made `signature` over `text` in the seal's
    namespace; a signature by anyone else, or over other text, is refused (exit 8)."""
    for path in (signature, allowed_signers):
        if not path.is_file():
            raise UsageError(f"no file at {path}")
    program = _ssh_keygen()
    found = subprocess.run(
        [program, "-Y", "find-principals", "-s", str(signature), "-f", str(allowed_signers)],
        capture_output=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    principals = found.stdout.decode(errors="replace").split()
    if found.returncode != 0 or not principals:
        raise RecordBrokenError(
            f"the seal's signature {signature} is not by a key of {allowed_signers}"
        )
    checked = found
    for principal in principals:
        command = [program, "-Y", "verify", "-f", str(allowed_signers), "-I", principal]
        checked = subprocess.run(
            [*command, "-n", NAMESPACE, "-s", str(signature)],
            input=text.encode(),
            capture_output=True,
            check=False,
        )
        if checked.returncode == 0:
            return principal
    raise RecordBrokenError(
        f"the seal's signature {signature} does not verify for {principals[0]} "
        f"(namespace {NAMESPACE}): {_last_line(checked.stderr)}"
    )
