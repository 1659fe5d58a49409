"""CSV exports never hand a spreadsheet a formula, and export → import still loses nothing."""

from __future__ import annotations

import csv
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, update

from ingest_helpers import USCC, clear_registry, seed_registry, snapshot
from innofin.db.engine import unit_of_work
from innofin.ingest import export_file, import_file
from innofin.ingest.formulas import FORMULA_START, needs_quote
from innofin.ingest.rejects import read_rejects
from innofin.ingest.writers import write_table
from innofin.registry.models import Certification, Enterprise, Institution, Product, Zone

ORDER = [
    "zones",
    "zone-stats",
    "enterprises",
    "certifications",
    "indicator-definitions",
    "indicators",
    "institutions",
    "products",
]
#: the names of the attack, and a genuine text that starts with a quote
ATTACKS = [
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=a name that really starts with a quote",
]


def _cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _plant(engine: Engine) -> None:
    """The attack's names in every kind of text an export writes."""
    with unit_of_work(engine) as s:
        firms = s.scalars(select(Enterprise).order_by(Enterprise.id)).all()
        for firm, name in zip(firms, ATTACKS, strict=False):
            firm.name = name
        firms[0].industry_code = "-6513"  # a code-like text that looks like a negative number
        for inst, name in zip(
            s.scalars(select(Institution).order_by(Institution.id)), ATTACKS[3:], strict=False
        ):
            inst.name = name
        for product, name in zip(
            s.scalars(select(Product).order_by(Product.id)), ATTACKS[5:], strict=False
        ):
            product.name = name
        s.execute(update(Zone).where(Zone.code == "Z2").values(name_en=ATTACKS[6]))
        s.execute(update(Certification).values(number='=HYPERLINK("http://x.invalid")'))


def test_attack_names_are_written_with_a_quote_and_read_back_exactly(
    engine: Engine, tmp_path: Path
) -> None:
    seed_registry(engine)
    _plant(engine)
    before = snapshot(engine)
    files = {kind: tmp_path / f"{kind}.csv" for kind in ORDER}
    for kind in ORDER:
        export_file(engine, kind, files[kind])
    cells = [c for kind in ORDER for row in _cells(files[kind]) for c in row]
    formulas = [c for c in cells if c and c[0] in FORMULA_START]
    assert sorted(formulas) == ["-20", "-2500.50"]  # only negative numbers, in numeric columns
    for attack in ATTACKS:
        assert "'" + attack in cells
    assert "'-6513" in cells  # the same characters in a text column are neutralised

    clear_registry(engine)
    for kind in ORDER:
        assert import_file(engine, kind, files[kind]).rejected == 0
    assert snapshot(engine) == before


def test_the_rejects_report_neutralises_the_cells_it_repeats(
    engine: Engine, tmp_path: Path
) -> None:
    source = tmp_path / "zones.csv"
    source.write_text(
        "code,name_zh,province,city,level\nZ9,=cmd|' /C calc'!A0,甲,乙,=1+1\n", encoding="utf-8"
    )
    rejects = tmp_path / "rejects.csv"
    result = import_file(engine, "zones", source, skip_invalid=True, rejects=rejects)
    assert result.rejected == 1
    raw = [c for row in _cells(rejects) for c in row]
    assert "'=1+1" in raw
    assert not [c for c in raw if c and c[0] in FORMULA_START]
    assert read_rejects(rejects)[0]["value"] == "=1+1"  # the reader gives the cell as written


def test_a_header_that_starts_like_a_formula_is_neutralised(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_table(path, "t", ["code", "=cmd|' /C calc'!A0"], [["a", "-1"]])
    assert _cells(path) == [["code", "'=cmd|' /C calc'!A0"], ["a", "'-1"]]


#: names made of the characters that matter, as a person or an attacker may type them
names = st.text(
    alphabet=st.sampled_from(["=", "+", "-", "@", "\t", "\r", "\n", "'", "a", "甲", " ", '"', ","]),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(names, min_size=3, max_size=3))
def test_enterprise_names_survive_export_and_import(
    engine: Engine, tmp_path_factory: object, chosen: list[str]
) -> None:
    """import(export(name)) == name for every name the importer keeps as written: a neutralised
    cell comes back exactly (a leading tab too); other cells are trimmed, as every import does."""
    for name in chosen:
        assume(name.strip() and name == name.rstrip())
        assume(needs_quote(name) or name == name.lstrip())
    with unit_of_work(engine) as s:
        if s.scalar(select(Enterprise.id).limit(1)) is None:
            seed_registry(engine)
    with unit_of_work(engine) as s:
        firms = s.scalars(select(Enterprise).order_by(Enterprise.id)).all()
        for firm, name in zip(firms, chosen, strict=True):
            firm.name = name
        keys = [(f.id_scheme, f.identifier) for f in firms]
    folder = Path(str(tmp_path_factory.mktemp("names")))  # type: ignore[attr-defined]
    path = folder / "enterprises.csv"
    export_file(engine, "enterprises", path)
    with unit_of_work(engine) as s:
        s.execute(update(Enterprise).values(name="placeholder"))
    assert import_file(engine, "enterprises", path).rejected == 0
    with unit_of_work(engine) as s:
        back = {
            (r.id_scheme, r.identifier): r.name
            for r in s.execute(select(Enterprise.id_scheme, Enterprise.identifier, Enterprise.name))
        }
    assert [back[k] for k in keys] == chosen
    assert USCC[0] in {k[1] for k in keys}
