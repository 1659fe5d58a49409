"""What the monitoring benchmarks share: the demo written to a SQLite database once and kept
(``benchmarks/out/<scale>-<seed>.db``; with the registry's steps alone, which scoring reads,
``registry-<scale>-<seed>.db``), and the key list published in it the way `innofin demo run`
publishes it — points of the last two report years under the default indicator system,
then the key-enterprise list of the last year selected by its rules (an integer program on
HiGHS), `demo.scales.key_list_size` firms."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, func, select

from innofin.audit.recorder import Actor
from innofin.db import make_engine
from innofin.db.migrate import upgrade
from innofin.demo import service as demo
from innofin.demo.scales import KEY_LIST, get_scale, key_list_size

OUT = Path(__file__).parent / "out"


#: the steps scoring reads (the ids of their rows are those of the whole demo's)
REGISTRY = ("zones", "institutions", "products", "enterprises", "reports")


def demo_db(
    scale: str, seed: int, path: Path | None = None, *, registry_only: bool = False
) -> Engine:
    """The demo of `scale` and `seed` in SQLite, written on first use (minutes at national
    scale) and reused afterwards."""
    name = f"registry-{scale}-{seed}.db" if registry_only else f"{scale}-{seed}.db"
    path = path or OUT / name
    steps = [s for s in demo.STEPS if s.name in REGISTRY] if registry_only else None
    OUT.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        made = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'data_source'"
        ).scalar()
        if made:
            made = conn.exec_driver_sql("SELECT COUNT(*) FROM data_source").scalar()
    if not made:
        print(f"writing the {scale} demo (seed {seed}) to {path} …", flush=True)
        started = time.perf_counter()
        upgrade(engine)
        demo.generate_demo(engine, scale, seed, steps)
        print(f"  written in {time.perf_counter() - started:.0f} s", flush=True)
    return engine


def publish_key_list(engine: Engine, scale: str) -> int:
    """Score and publish the demo's key list (once); returns its members."""
    from innofin.scoring import lists
    from innofin.scoring import service as scoring
    from innofin.scoring.models import KeyList, KeyListEntry

    with engine.connect() as conn:
        found = conn.scalar(select(func.max(KeyList.id)).where(KeyList.name == KEY_LIST))
    if found is None:
        print(f"scoring and publishing the key list {KEY_LIST!r} …", flush=True)
        started = time.perf_counter()
        actor = Actor.cli("benchmark")
        s = get_scale(scale)
        last = s.years[-1]
        scoring.run(engine, "default", last - 1, actor, top=0)
        scoring.run(engine, "default", last, actor, top=0)
        lists.select_list(engine, Path(KEY_LIST), last, actor, count=key_list_size(s))
        print(f"  published in {time.perf_counter() - started:.0f} s", flush=True)
        with engine.connect() as conn:
            found = conn.scalar(select(func.max(KeyList.id)).where(KeyList.name == KEY_LIST))
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(KeyListEntry)
                .where(KeyListEntry.list_id == found, KeyListEntry.member)
            )
            or 0
        )


def key_members(engine: Engine) -> pl.DataFrame:
    """The published lists' members as the balance cube reads them (name, year, enterprise_id)."""
    from innofin.monitoring.cube.service import SCHEMAS, _queries, _read

    with engine.connect() as conn:
        sql = _queries(engine.dialect.name)["key_members"]
        return _read(conn, sql, SCHEMAS["key_members"])
