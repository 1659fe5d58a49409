"""Column mappings: which file header holds which field, in which unit.

A mapping is a YAML file validated by `Mapping`. `bind` matches it against a file's header row and
returns the columns to read, each with the unit its values are written in; every inconsistency is a
one-line error before any row is read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from innofin.ingest.dateformats import format_pattern
from innofin.ingest.errors import MappingError, MissingColumn, UnitMismatch, UnknownColumn
from innofin.ingest.kinds import KINDS, FieldSpec, FieldType, KindSpec, any_kind
from innofin.ingest.units import Unit, normalise_header, parse_unit, split_unit, unit_label
from innofin.kernel.money import AmountUnit


class ColumnMap(BaseModel):
    """One column: a field of the kind, or a registered extension indicator, and its unit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str | None = None
    indicator: str | None = None
    unit: str | None = None
    #: date columns: the format(s) the file writes its dates in (`ingest.dateformats`)
    format: str | list[str] | None = None
    #: amount columns: the currency the file writes them in (CNY when not given)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")

    @model_validator(mode="after")
    def _one_target(self) -> ColumnMap:
        if (self.field is None) == (self.indicator is None):
            raise ValueError("give exactly one of field or indicator")
        if self.unit is not None:
            parse_unit(self.unit)
        for fmt in self.formats:
            format_pattern(fmt)
        return self

    @property
    def formats(self) -> tuple[str, ...]:
        if self.format is None:
            return ()
        return (self.format,) if isinstance(self.format, str) else tuple(self.format)


class Rate(BaseModel):
    """How a mapping converts amounts in another currency to yuan: the rate (yuan per unit of
    the currency) and the date it is taken from (e.g. the return's reporting date)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: Decimal = Field(gt=0, description="yuan per unit of the currency, e.g. 7.1268")
    date: dt.date = Field(description="the date of the rate")
    source: str | None = Field(None, description="where the rate comes from (PBOC central parity)")


class Mapping(BaseModel):
    """A mapping file (see the shipped ones under ``innofin/ingest/mappings``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    description: str | None = None
    encoding: str | None = Field(None, description="CSV encoding; detected when not given")
    sheet: str | None = Field(None, description="XLSX sheet; the first one when not given")
    header_row: int = Field(1, ge=1, description="the row holding the headers (1 = first)")
    unmapped: Literal["ignore", "error", "indicators"] = Field(
        "ignore",
        description="other headers: ignore them, refuse the file, or read them as the codes of "
        "registered extension indicators (refusing any other)",
    )
    constants: dict[str, str] = Field(default_factory=dict, description="field: value for all")
    rates: dict[str, Rate] = Field(
        default_factory=dict,
        description="currency: {rate, date}: how amounts in a currency other than CNY become yuan",
    )
    columns: dict[str, ColumnMap]

    @field_validator("columns", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        """``营业收入: revenue`` is short for ``营业收入: {field: revenue}``."""
        if not isinstance(value, dict):
            return value
        return {str(k): {"field": v} if isinstance(v, str) else v for k, v in value.items()}

    @field_validator("constants", mode="before")
    @classmethod
    def _constants_as_text(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {str(k): str(v) for k, v in value.items()}

    @model_validator(mode="after")
    def _fits_kind(self) -> Mapping:
        spec = any_kind(self.kind)
        if spec is None:
            raise ValueError(f"unknown kind {self.kind!r}: use one of {', '.join(KINDS)}")
        for header, column in self.columns.items():
            if column.field is not None and column.field not in spec.names:
                raise ValueError(f"column {header!r}: {self.kind} has no field {column.field!r}")
            if column.indicator is not None and self.kind != "indicators":
                raise ValueError(f"column {header!r}: only indicators take extension indicators")
            field = spec.field(column.field) if column.field is not None else None
            if column.format is not None and (field is None or field.type is not FieldType.DATE):
                raise ValueError(f"column {header!r}: only date columns take a format")
            if column.currency is not None:
                if field is None or field.type is not FieldType.MONEY:
                    raise ValueError(f"column {header!r}: only amount columns take a currency")
                if column.currency != "CNY" and column.currency not in self.rates:
                    raise ValueError(
                        f"column {header!r}: amounts in {column.currency} are not read as yuan; "
                        f"give rates: {{{column.currency}: {{rate: <yuan per "
                        f"{column.currency}>, date: <YYYY-MM-DD>}}}} to convert them"
                    )
        for name in self.constants:
            if name not in spec.names:
                raise ValueError(f"constants: {self.kind} has no field {name!r}")
        return self


def load_mapping(path: Path | None, kind: str) -> Mapping:
    """Read and validate a mapping file; without one, innofin's own format for `kind`.

    A name that is not a file but one of the shipped mappings (``indicators-zh``) loads that.
    """
    shipped = resources.files("innofin.ingest") / "mappings"
    if path is None:
        path = Path(f"{kind}.yaml")
        text, name = (shipped / path.name).read_text(encoding="utf-8"), path.name
    elif not Path(path).exists() and (shipped / f"{Path(path).stem}.yaml").is_file():
        name = f"{Path(path).stem}.yaml"
        text = (shipped / name).read_text(encoding="utf-8")
    else:
        try:
            text, name = Path(path).read_text(encoding="utf-8"), Path(path).name
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingError(f"cannot read mapping {path}: {exc}", field="mapping") from None
    try:
        data = yaml.safe_load(text)
        mapping = Mapping.model_validate(data)
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise MappingError(f"mapping {name} is not valid YAML: {reason}", field="mapping") from None
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'mapping'}: {err['msg']}"
            for err in exc.errors()
        )
        raise MappingError(f"mapping {name}: {reasons}", field="mapping") from None
    if mapping.kind != kind:
        raise MappingError(f"mapping {name} is for {mapping.kind}, not {kind}", field="mapping")
    return mapping


@dataclass(frozen=True)
class BoundColumn:
    """A column to read: where it is, what it holds, and the unit its cells are written in."""

    header: str  # as written in the file (for messages and the rejects report)
    index: int | None  # position in the row; None for a constant
    field: str  # a field of the kind, or "ext:<code>" for an extension indicator
    spec: FieldSpec
    unit: Unit | None = None
    constant: str | None = None
    formats: tuple[str, ...] = ()
    currency: str = "CNY"
    rate: Decimal | None = None  # yuan per unit of `currency` (None for CNY)

    @property
    def indicator(self) -> str | None:
        return self.field.removeprefix("ext:") if self.field.startswith("ext:") else None


@dataclass(frozen=True)
class Binding:
    """A mapping matched to a header row."""

    kind: KindSpec
    columns: tuple[BoundColumn, ...]

    @property
    def fields(self) -> set[str]:
        return {c.field for c in self.columns}


def _extension_spec(code: str, unit: str) -> FieldSpec:
    kind = FieldType.BOOL if unit == "flag" else FieldType.QUANTITY
    return FieldSpec(f"ext:{code}", kind, signed=True)


def _field_unit(spec: FieldSpec, declared: Unit | None, indicator_unit: str | None) -> Unit | None:
    """The unit a column is read in, or ValueError if `declared` does not suit the field."""
    if indicator_unit == "yuan" or spec.type is FieldType.MONEY:
        if declared is None:
            return AmountUnit.YUAN
        if isinstance(declared, AmountUnit):
            return declared
        raise ValueError(f"{unit_label(declared)} does not suit an amount")
    if declared is None:
        return "percent" if indicator_unit == "percent" else None
    if declared == "count" and (
        spec.type is FieldType.INT or indicator_unit in ("count", "person")
    ):
        return "count"
    if declared == "percent" and spec.type is FieldType.QUANTITY and indicator_unit != "count":
        return "percent"
    raise ValueError(f"{unit_label(declared)} does not suit field {spec.name}")


#: what to do about a column the mapping does not know (the message of `UnknownColumn`)
IGNORE_EXTRA_HINT = (
    "remove it, or import with --ignore-extra (ignore_extra=true in the API) to leave it out"
)


def bind(
    mapping: Mapping,
    header: list[str],
    file_name: str,
    extensions: dict[str, str],
    *,
    ignore_extra: bool = False,
) -> Binding:
    """Match `header` against `mapping`; `extensions` maps registered extension codes to units.

    A header the mapping does not know is refused when the mapping says ``unmapped: error`` (or
    ``indicators`` and it is no registered extension indicator), unless `ignore_extra`."""
    spec = any_kind(mapping.kind)
    assert spec is not None  # the mapping was validated against the kinds
    exact = {normalise_header(h): (h, c) for h, c in mapping.columns.items()}
    by_base: dict[str, tuple[str, ColumnMap]] = {}
    for key, column in mapping.columns.items():
        by_base.setdefault(split_unit(key)[0], (key, column))
    seen: dict[str, str] = {}
    bound: list[BoundColumn] = []
    where = f"{file_name} row {mapping.header_row}"
    for index, raw in enumerate(header):
        text = raw.strip()
        if not text:
            continue
        base, header_unit = split_unit(text)
        hit = exact.get(normalise_header(text)) or by_base.get(base)
        if hit is None:
            code = text if mapping.unmapped == "indicators" else None
            if code is not None and code in extensions:
                hit = (text, ColumnMap(indicator=code))
            elif mapping.unmapped == "ignore" or ignore_extra:
                continue
            else:
                raise UnknownColumn(
                    f"{where}: column {text!r} is not in the mapping; {IGNORE_EXTRA_HINT}"
                )
        key, column = hit
        if column.indicator is not None:
            if column.indicator not in extensions:
                raise MappingError(
                    f"{where}, column {text!r}: {column.indicator!r} is not a registered "
                    "extension indicator (indicator_definition)"
                )
            field_name = f"ext:{column.indicator}"
            field_spec = _extension_spec(column.indicator, extensions[column.indicator])
            indicator_unit: str | None = extensions[column.indicator]
        else:
            assert column.field is not None
            field_name, field_spec, indicator_unit = column.field, spec.field(column.field), None
        declared = parse_unit(column.unit) if column.unit else split_unit(key)[1]
        declared = declared or header_unit  # a mapping that names no unit takes the header's
        try:
            unit = _field_unit(field_spec, declared, indicator_unit)
        except ValueError as exc:
            raise MappingError(f"{where}, column {text!r}: unit {exc}") from None
        if header_unit is not None and header_unit != unit:
            read = (
                f"the mapping reads {field_name} in {unit_label(unit)}"
                if unit
                else (f"{field_name} has no unit")
            )
            raise UnitMismatch(
                f"{where}, column {text!r}: unit mismatch: the header says "
                f"{unit_label(header_unit)} but {read}"
            )
        if field_name in seen:
            raise MappingError(
                f"{where}: columns {seen[field_name]!r} and {text!r} both hold {field_name}"
            )
        seen[field_name] = text
        currency = column.currency or "CNY"
        rate = mapping.rates[currency].rate if currency != "CNY" else None
        bound.append(
            BoundColumn(
                text, index, field_name, field_spec, unit,
                formats=column.formats, currency=currency, rate=rate,
            )
        )  # fmt: skip
    for name, value in mapping.constants.items():
        if name in seen:
            raise MappingError(f"{where}: {name} is both a constant and column {seen[name]!r}")
        field_spec = spec.field(name)
        unit = _field_unit(field_spec, None, None)
        bound.append(BoundColumn(f"({name}={value})", None, name, field_spec, unit, value))
        seen[name] = name
    missing = [f for f in spec.fields if f.required and f.name not in seen]
    if missing:
        wanted = missing[0].name
        names = [h for h, c in mapping.columns.items() if c.field == wanted] or [wanted]
        raise MissingColumn(
            f"{where}: required column {' / '.join(repr(n) for n in names)} ({wanted}) is missing",
            field=wanted,
        )
    return Binding(spec, tuple(bound))


def shipped_mappings() -> list[str]:
    """Names of the mappings that come with innofin (``indicators-zh``, ``enterprises``, ...)."""
    folder = resources.files("innofin.ingest") / "mappings"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )
