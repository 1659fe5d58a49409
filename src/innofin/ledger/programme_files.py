"""Programmes as files: a programme, its targets, agreements with their commitments and risk
pools, written in YAML and loaded in one transaction (``innofin ledger programme load``).

It writes across the ledger's sub-rooms (programmes and agreements, then risk pools), so it
sits at the ledger's root. Amounts are numbers or decimal strings in yuan, or
``{amount: "2100", unit: 亿元}``. Every error names the file and line.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor
from innofin.kernel.money import AmountUnit, money_arg
from innofin.kernel.yamlfile import YamlDocument, load_yaml
from innofin.ledger.models import Programme
from innofin.ledger.pools import engine as pool_engine
from innofin.ledger.pools import service as pools
from innofin.ledger.programmes import service as programme_service
from innofin.registry.models import Institution, Zone

TEMPLATES = {
    "province_county": pool_engine.early_province_county_rules,
    "zone_pool": pool_engine.zone_pool_rules,
    "province_direct_guaranteed_bonus": pool_engine.province_direct_guaranteed_bonus_rules,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _amount(value: Any) -> Decimal:
    """An amount of a programme file, by the one policy of money arguments: whole fen once in
    yuan (1.2345678 万元 is refused, not rounded)."""
    unit = AmountUnit.YUAN
    if isinstance(value, dict):
        unit = AmountUnit.parse(str(value.get("unit", "元")))
        value = str(value.get("amount"))
    if isinstance(value, float):
        value = repr(value)  # YAML numbers: read from their text, never through binary floats
    return money_arg(value, "amount", signed=True, unit=unit)


#: an amount in yuan: a number, a decimal string, or {amount, unit} with 元 / 万元 / 亿元
YamlAmount = Annotated[Decimal, BeforeValidator(_amount)]


class TargetFile(_Strict):
    kind: Literal["financing_balance", "new_credit", "key_enterprises", "balance_growth"]
    due_on: dt.date
    amount: YamlAmount | None = None
    count: int | None = Field(default=None, ge=0)
    rate: Decimal | None = None
    tech_field: str | None = None
    period_start: dt.date | None = None


class CommitmentFile(_Strict):
    amount: YamlAmount
    period_start: dt.date
    period_end: dt.date
    tech_field: str | None = None


class AgreementFile(_Strict):
    code: str = Field(min_length=1, max_length=40)
    kind: Literal["government_bank", "zone_bank", "bank_enterprise"]
    institution: str  # the institution's code
    counterparty: str
    signed_on: dt.date
    starts_on: dt.date
    ends_on: dt.date
    commitments: list[CommitmentFile] = Field(default_factory=list)
    documents: list[Path] = Field(default_factory=list)


class ContributionFile(_Strict):
    contributor: str
    amount: YamlAmount
    paid_on: dt.date


class PoolFile(_Strict):
    code: str = Field(min_length=1, max_length=40)
    name: str
    template: Literal["province_county", "zone_pool", "province_direct_guaranteed_bonus"]
    #: fields of the template to change (see pool_engine.PoolRules); rates as strings
    rules: dict[str, Any] = Field(default_factory=dict)
    opened_on: dt.date
    contributions: list[ContributionFile] = Field(default_factory=list)


class ProgrammeFile(_Strict):
    code: str = Field(min_length=1, max_length=40)
    name: str
    sponsor: str
    starts_on: dt.date
    ends_on: dt.date
    candidate_list: str | None = None
    #: bank returns naming the programme may register the borrowers they name
    register_borrowers: bool = False
    zones: list[str] = Field(default_factory=list)  # zone codes
    institutions: list[str] = Field(default_factory=list)  # institution codes
    targets: list[TargetFile] = Field(default_factory=list)
    agreements: list[AgreementFile] = Field(default_factory=list)
    pools: list[PoolFile] = Field(default_factory=list)


def _id(session: Session, doc: YamlDocument, model: Any, code: str, loc: list[Any]) -> int:
    found: int | None = session.scalar(select(model.id).where(model.code == code))
    if found is None:
        raise doc.error(loc, f"unknown {model.__tablename__} code {code!r}")
    return found


def load_programme(session: Session, actor: Actor, path: Path) -> Programme:
    """Create the programme of `path` with everything it lists (all or nothing)."""
    doc = load_yaml(Path(path).read_text(encoding="utf-8"), str(path))
    try:
        spec = ProgrammeFile.model_validate(doc.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise doc.error(first["loc"], first["msg"]) from None
    zone_ids = [_id(session, doc, Zone, c, ["zones", i]) for i, c in enumerate(spec.zones)]
    inst_ids = [
        _id(session, doc, Institution, c, ["institutions", i])
        for i, c in enumerate(spec.institutions)
    ]
    prog = programme_service.create_programme(
        session,
        actor,
        code=spec.code,
        name=spec.name,
        sponsor=spec.sponsor,
        starts_on=spec.starts_on,
        ends_on=spec.ends_on,
        targets=[programme_service.TargetSpec(**t.model_dump()) for t in spec.targets],
        zone_ids=zone_ids,
        institution_ids=inst_ids,
        candidate_list=spec.candidate_list,
        register_borrowers=spec.register_borrowers,
    )
    for i, a in enumerate(spec.agreements):
        inst = _id(session, doc, Institution, a.institution, ["agreements", i, "institution"])
        folder = Path(path).parent
        programme_service.sign_agreement(
            session,
            actor,
            code=a.code,
            kind=a.kind,
            institution_id=inst,
            counterparty=a.counterparty,
            signed_on=a.signed_on,
            starts_on=a.starts_on,
            ends_on=a.ends_on,
            commitments=[programme_service.CommitmentSpec(**c.model_dump()) for c in a.commitments],
            programme_id=prog.id,
            documents=[folder / d for d in a.documents],
        )
    for i, p in enumerate(spec.pools):
        make = TEMPLATES[p.template]
        try:
            rules = make(**p.rules)  # type: ignore[operator]
        except (TypeError, ValueError) as exc:
            raise doc.error(["pools", i, "rules"], str(exc)) from None
        pool = pools.create_pool(
            session, actor, code=p.code, name=p.name, rules=rules, programme_id=prog.id,
            opened_on=p.opened_on,
        )  # fmt: skip
        for c in p.contributions:
            pools.contribute(
                session, actor, pool.id, contributor=c.contributor, amount=c.amount, on=c.paid_on
            )
    return prog
