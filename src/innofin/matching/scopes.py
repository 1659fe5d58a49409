"""Which financing needs each caller can see and change: the row scopes of matching's tables,
built from the access policy's (`innofin.access.policy`, where the actions are decided); and
the operator at the machine, who sees every row."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

from innofin.access.policy import (
    ENTERPRISE,
    INSTITUTION,
    enterprise_scope,
    enterprise_write_scope,
    in_ids,
    institution_limited,
    officer_enterprise_scope,
)
from innofin.kernel.codes import Role
from innofin.kernel.principal import Principal
from innofin.matching.models import FinancingNeed, NeedReferral
from innofin.registry.models import Enterprise

#: the operator at the machine (the CLI): every row, as the platform admin
OPERATOR = Principal(
    user_id=0,
    username="cli",
    roles=frozenset({Role.PLATFORM_ADMIN}),
    organisation_id=0,
    org_kind="government",
)


def need_scope(p: Principal) -> ColumnElement[bool]:
    """Financing needs follow their enterprise: whoever sees the enterprise sees its needs
    (an institution: those of firms that consented or were referred to it)."""
    if p.is_admin:
        return true()
    return FinancingNeed.enterprise_id.in_(select(Enterprise.id).where(enterprise_scope(p)))


def need_write_scope(p: Principal) -> ColumnElement[bool]:
    """Needs the caller may change: its own enterprise's, or (officers) those of the
    enterprises whose record it may change."""
    if p.is_admin:
        return true()
    return FinancingNeed.enterprise_id.in_(select(Enterprise.id).where(enterprise_write_scope(p)))


def match_institution_ids(p: Principal) -> frozenset[int] | None:
    """The institutions whose best-fitting needs the caller may ask for (None: any it sees)."""
    return p.institution_ids if institution_limited(p) else None


def need_referral_scope(p: Principal) -> ColumnElement[bool]:
    """Referrals of needs: an institution sees only its own (and its branches'), an enterprise
    those of its own needs, officers those of the needs of the enterprises they oversee."""
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    officer = officer_enterprise_scope(p)
    if officer:
        firms = select(Enterprise.id).where(or_(*officer))
        clauses.append(
            NeedReferral.need_id.in_(
                select(FinancingNeed.id).where(FinancingNeed.enterprise_id.in_(firms))
            )
        )
    if p.has(INSTITUTION):
        clauses.append(in_ids(NeedReferral.institution_id, p.institution_ids))
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(
            NeedReferral.need_id.in_(
                select(FinancingNeed.id).where(FinancingNeed.enterprise_id == p.enterprise_id)
            )
        )
    return or_(false(), *clauses)
