"""Who may do what on a deal: its team, each member a login (the OS account on SQLite, the
database role on PostgreSQL) with roles, and the role each action needs.

- `viewer` reads; everyone on the team is one.
- `operator` records marks and corrections of the steps that move no money.
- `money` records what moves money: `mark-wired` (and any mark, undo or reversal of a payment
  step), `wires import --apply`, `wires match`, `withdraw`.
- `verifier` records the callback that verifies the company's wire instructions.
- `admin` loads and reloads the deal file, manages the team, makes and revokes share links.

A deal loaded before closing had teams has none until an admin is added: until then nothing is
checked (as before). Pure: the store reads the team, the services ask `needed` and `check`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from closing.domain.errors import NotPermittedError

VIEWER, OPERATOR, MONEY, VERIFIER, ADMIN = "viewer", "operator", "money", "verifier", "admin"
ROLES = (VIEWER, OPERATOR, MONEY, VERIFIER, ADMIN)
FIRST_ADMIN_ROLES = (OPERATOR, MONEY, VERIFIER, ADMIN)  # the first `init`'s operator: every role


@dataclass(frozen=True)
class Member:
    """One member of a deal's team."""

    login: str
    roles: tuple[str, ...]
    name: str | None = None
    email: str | None = None

    def shown(self) -> str:
        """`alice (Alice Smith): admin, money`."""
        who = f"{self.login} ({self.name})" if self.name else self.login
        return f"{who}: {', '.join(self.roles) or 'no role'}"


def ordered(roles: Iterable[str]) -> tuple[str, ...]:
    """The roles in their canonical order, each once (unknown names are the CLI's to refuse)."""
    wanted = set(roles)
    return tuple(role for role in ROLES if role in wanted)


def needed_for_event(kind: str, payment_step: bool) -> str:
    """The role an event of `kind` needs (a step's mark, undo, reversal, waiver, receipt)."""
    if kind == "withdraw" or payment_step:
        return MONEY
    return OPERATOR


def check(team: dict[str, Member], login: str, role: str, what: str) -> None:
    """Nothing when `login` may `what` (it has `role`, or the deal has no team yet); else
    `NotPermittedError` naming the role."""
    if not team:
        return
    member = team.get(login)
    if member is not None and (role in member.roles or role == VIEWER):
        return
    raise NotPermittedError(
        f"cannot {what}: {login} needs the {role} role on this deal's team (an admin runs: "
        f"closing team grant {login} {role}); nothing recorded"
    )
