"""The signed-in caller as every room sees it: who it is, its roles, and what its organisation
links to. A plain value: `access` makes it from a session, `access.policy` decides what it may
do, and each room's row scopes (`ledger/scopes.py`, …) turn it into SQL predicates."""

from __future__ import annotations

from dataclasses import dataclass, field

from innofin.kernel.codes import Role


@dataclass(frozen=True)
class Principal:
    """A signed-in caller: the user, its roles and what its organisation links to."""

    user_id: int
    username: str
    roles: frozenset[Role]
    organisation_id: int
    org_kind: str
    zone_id: int | None = None
    enterprise_id: int | None = None
    #: the institution and all its branches, for an institution's organisation
    institution_ids: frozenset[int] = field(default_factory=frozenset)
    #: a government body's province; None is national (every province)
    province: str | None = None
    session_id: int | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return Role.PLATFORM_ADMIN in self.roles

    @property
    def is_national(self) -> bool:
        return (
            self.has(Role.PROGRAMME_OFFICER)
            and self.org_kind == "government"
            and self.province is None
        )
