"""The rules of each kind beyond single cells: references to other records and parent links.

A rule takes the parsed batch and returns it with the id columns the table needs (zone_id,
enterprise_id, institution_id, parent_id) and the problems it found. `bad` holds the rows already
known to be rejected, for rules whose answer depends on earlier rows of the same file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import polars as pl

from innofin.ingest import lookups
from innofin.kernel.errors import InvalidIdentifier
from innofin.kernel.ids import normalise_identifier
from innofin.registry.models import Institution

if TYPE_CHECKING:
    from innofin.ingest.validate import BatchValidator

Rule = Callable[
    ["BatchValidator", pl.DataFrame, pl.DataFrame, set[int]],
    tuple[pl.DataFrame, list[pl.DataFrame]],
]
_SEP = "\x1f"


def _unknown(values: pl.Series, ids: pl.Series, what: str) -> pl.Series:
    """'unknown <what> 'X'' where a code was given but did not resolve."""
    missing = values.is_not_null() & ids.is_null()
    return pl.select(pl.when(missing).then(pl.format(f"unknown {what} '{{}}'", values))).to_series()


def resolve_enterprises(
    validator: BatchValidator, frame: pl.DataFrame, *, register: bool
) -> tuple[pl.Series, pl.Series]:
    """Each row's identifier checked and normalised (`normalise_identifier`) and, unless
    `register` (the enterprises kind itself), resolved to the enterprise's id.

    Identifiers found verbatim in the registry were normalised when they were stored, so only the
    others go through the (slow) check: a million-row indicator file costs a query a batch.
    """
    if "id_scheme" in frame.columns:
        schemes = frame["id_scheme"]
    else:
        schemes = pl.Series(["uscc"] * frame.height, dtype=pl.Utf8)
    keys = pl.DataFrame({"s": schemes, "i": frame["identifier"]})
    resolved: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for (scheme,), group in keys.drop_nulls().unique().group_by("s"):
        scheme = str(scheme)
        distinct = group["i"].to_list()
        found = lookups.enterprise_ids(validator.conn, scheme, distinct)
        canonical: dict[str, str] = {}
        for ident in distinct:
            if ident in found:
                resolved[scheme + _SEP + ident] = ident if register else found[ident]
                continue
            try:
                canonical[ident] = normalise_identifier(ident, scheme)
            except InvalidIdentifier as exc:
                reasons[scheme + _SEP + ident] = str(exc)
        if register:
            resolved.update({scheme + _SEP + i: c for i, c in canonical.items()})
            continue
        again = lookups.enterprise_ids(validator.conn, scheme, set(canonical.values()))
        for ident, canon in canonical.items():
            if canon in again:
                resolved[scheme + _SEP + ident] = again[canon]
            else:
                reasons[scheme + _SEP + ident] = (
                    f"unknown enterprise: {scheme} {canon} is not in the registry"
                )
    joined = keys.select(pl.concat_str(["s", "i"], separator=_SEP)).to_series()
    dtype = pl.Utf8 if register else pl.Int64
    values = joined.replace_strict(resolved, default=None, return_dtype=dtype)
    why = joined.replace_strict(reasons, default=None, return_dtype=pl.Utf8)
    return values, why


def _enterprise_ref(
    v: BatchValidator, frame: pl.DataFrame, raw: pl.DataFrame, bad: set[int]
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    ids, reasons = resolve_enterprises(v, frame, register=False)
    return frame.with_columns(ids.alias("enterprise_id")), [v.report(raw, "identifier", reasons)]


def _enterprises(
    v: BatchValidator, frame: pl.DataFrame, raw: pl.DataFrame, bad: set[int]
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    canonical, reasons = resolve_enterprises(v, frame, register=True)
    frame = frame.with_columns(canonical.alias("identifier"))
    found = [v.report(raw, "identifier", reasons)]
    if "zone" in frame.columns:
        frame, more = _zone_ref(v, frame, raw, bad)
        found.extend(more)
    return frame, found


def _zone_ref(
    v: BatchValidator,
    frame: pl.DataFrame,
    raw: pl.DataFrame,
    bad: set[int],
    target: str = "zone_id",
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    if "zone" not in frame.columns:
        return frame, []
    zones = v.lookup("zones", lambda: lookups.zone_ids(v.conn))
    ids = frame["zone"].replace_strict(zones, default=None, return_dtype=pl.Int64)
    reasons = _unknown(frame["zone"], ids, "zone code")
    return frame.with_columns(ids.alias(target)), [v.report(raw, "zone", reasons)]


def _definitions(
    v: BatchValidator, frame: pl.DataFrame, raw: pl.DataFrame, bad: set[int]
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """A zone's own indicators: never a core report field's code; the owner zone must exist."""
    core = v.lookup("core indicators", lambda: lookups.core_indicator_codes(v.conn))
    reused = pl.col("code").is_in(sorted(core))
    message = pl.format("'{}' is a core report field; choose another code", pl.col("code"))
    reasons = frame.select(pl.when(reused).then(message).alias("reason"))["reason"]
    frame, found = _zone_ref(v, frame, raw, bad, target="owner_zone_id")
    return frame, [v.report(raw, "code", reasons), *found]


def _institution_ref(
    v: BatchValidator, frame: pl.DataFrame, raw: pl.DataFrame, bad: set[int]
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    known = v.lookup("institutions", lambda: lookups.code_ids(v.conn, Institution))
    ids = frame["institution"].replace_strict(known, default=None, return_dtype=pl.Int64)
    reasons = _unknown(frame["institution"], ids, "institution")
    return frame.with_columns(ids.alias("institution_id")), [v.report(raw, "institution", reasons)]


def _parents(
    v: BatchValidator, frame: pl.DataFrame, raw: pl.DataFrame, bad: set[int]
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """A branch names its parent by code: one in the registry or on an earlier row of the file
    (the export writes head offices first). Links to rows of this file are set after the write."""
    known = v.lookup("institutions", lambda: lookups.code_ids(v.conn, Institution))
    if "parent" not in frame.columns:
        for row, code in zip(frame["__row"].to_list(), frame["code"].to_list(), strict=True):
            if row not in bad and code is not None:
                v.file_codes.add(code)
        return frame, []
    reasons: list[str | None] = []
    ids: list[int | None] = []
    for row, code, parent in zip(
        frame["__row"].to_list(), frame["code"].to_list(), frame["parent"].to_list(), strict=True
    ):
        reason = None
        if parent is not None and parent == code:
            reason = "an institution cannot be its own parent"
        elif parent is not None and parent not in known and parent not in v.file_codes:
            reason = f"unknown parent institution '{parent}' (not in the registry nor on an "
            reason += "earlier row)"
        if reason is None and row not in bad and code is not None:
            v.file_codes.add(code)
        reasons.append(reason)
        ids.append(known.get(parent) if parent is not None else None)
    frame = frame.with_columns(pl.Series("parent_id", ids, dtype=pl.Int64))
    return frame, [v.report(raw, "parent", pl.Series(reasons, dtype=pl.Utf8))]


def _nothing(
    v: BatchValidator, frame: pl.DataFrame, raw: pl.DataFrame, bad: set[int]
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    return frame, []


RULES: dict[str, Rule] = {
    "zones": _nothing,
    "zone-stats": _zone_ref,
    "enterprises": _enterprises,
    "certifications": _enterprise_ref,
    "indicator-definitions": _definitions,
    "indicators": _enterprise_ref,
    "institutions": _parents,
    "products": _institution_ref,
}
