"""The navigation bar: each entry names the policy action its page needs, so a visitor sees only
the pages its role may open. Page modules add their entries to `NAV` (in menu order)."""

from __future__ import annotations

from dataclasses import dataclass

from innofin.access.policy import may
from innofin.kernel.principal import Principal
from innofin.web.render import N_


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str  # an English message id, translated where shown
    action: str


NAV: list[NavItem] = [
    NavItem("/", N_("Home"), "me:read"),
    NavItem("/enterprises", N_("Enterprises"), "enterprise:read"),
    NavItem("/scoring/runs", N_("Scoring runs"), "score_run:read"),
    NavItem("/key-lists", N_("Key-enterprise lists"), "key_list:read"),
    NavItem("/zone-rankings", N_("Pilot-zone ranking"), "zone_ranking:read"),
    NavItem("/ledger", N_("Ledger"), "ledger:read"),
    NavItem("/needs", N_("Financing needs"), "need:read"),
    NavItem("/referrals", N_("Referrals"), "need_referral:read"),
    NavItem("/referrals/overdue", N_("Overdue referrals"), "need_referral:flag_overdue"),
    NavItem("/allocation", N_("Special-credit allocation"), "allocation:read"),
    NavItem("/events", N_("Matchmaking meetings"), "event:read"),
    NavItem("/monitoring", N_("Monitoring"), "monitor:targets"),
    NavItem("/imports", N_("Imports"), "import:run"),
    NavItem("/consents", N_("Consents"), "consent:read"),
    NavItem("/audit", N_("Audit trail"), "audit:read"),
]


def navigation(principal: Principal | None, path: str) -> list[tuple[NavItem, bool]]:
    """The entries `principal` may open, each with whether it is the current section."""
    if principal is None:
        return []
    shown = [item for item in NAV if may(principal, item.action)]

    def current(item: NavItem) -> bool:
        return path == item.href if item.href == "/" else path.startswith(item.href)

    return [(item, current(item)) for item in shown]
