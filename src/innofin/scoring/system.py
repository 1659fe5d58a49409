"""Indicator systems (指标体系) as versioned data: YAML files, validated, compiled and hashed.

A system file names its groups and indicators; each indicator has an expression over the annual
report (see :mod:`innofin.scoring.expressions`), a direction, a missing-value policy, a
normalisation to [0, 1], a peer group and a weight per growth stage. Points are
``weight(stage) × normalised value``; core groups add up to the system's scale, bonus groups add
(up to their cap) and negative groups subtract (up to their cap). A system may ``extend`` another
(a zone's own indicators on top of ``default``). Every error names the file and line.

Shipped systems live in ``scoring/systems/*.yaml`` and are loaded by name.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from innofin.kernel.indicators import REPORT_FIELDS
from innofin.kernel.yamlfile import YamlDocument, YamlError, load_yaml
from innofin.scoring.expressions import Expression, ExpressionError, parse

PeerKey = Literal["all", "zone", "province", "field", "stage", "size"]
Ident = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
FIELDS = frozenset(REPORT_FIELDS)
#: only for qualification rules
RESULT_NAMES = frozenset({"points"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(_Strict):
    zh: str
    en: str


class GroupSpec(_Strict):
    id: Ident
    names: Names
    kind: Literal["core", "bonus", "negative"] = "core"
    #: bonus and negative groups: the most points they add or take away
    max_points: float | None = Field(default=None, gt=0)


class Step(_Strict):
    at_least: float
    score: float = Field(ge=0, le=1)


class NormalisationSpec(_Strict):
    """How a raw value becomes a score in [0, 1].

    - ``ratio``: value ÷ reference, capped at ``cap`` (1 = full marks at the reference);
    - ``percentile``: the share of the peer group at or below the value (ties share);
    - ``zscore``: (value − mean) ÷ sd of the reference population, clipped to ±``clip``, mapped
      to [0, 1];
    - ``steps``: a table of thresholds (``at_least``) → score;
    - ``log_ratio``: log(1 + value) ÷ log(1 + reference), capped.

    ``reference`` is a number, or ``table`` for the stored yearly reference population.
    A table reference may be 0 (most of the group reports none): then ``ratio`` and
    ``log_ratio`` give full marks (``cap``) to a positive value and 0 to a value of 0 or less
    when higher is better, and full marks to a value at or below the reference, 0 above it, when
    lower is better.
    """

    method: Literal["ratio", "percentile", "zscore", "steps", "log_ratio"]
    reference: float | Literal["table"] | None = None
    cap: float = Field(default=1.0, gt=0, le=1)
    clip: float = Field(default=3.0, gt=0)
    steps: list[Step] | None = None

    @model_validator(mode="after")
    def _fits_method(self) -> NormalisationSpec:
        if self.method in ("ratio", "log_ratio"):
            if self.reference is None:
                raise ValueError(f"{self.method} needs a reference (a number or 'table')")
            if isinstance(self.reference, float) and self.reference <= 0:
                raise ValueError("reference must be positive")
        elif self.method == "zscore":
            if self.reference not in (None, "table"):
                raise ValueError("zscore takes its mean and sd from the reference table")
        elif self.reference is not None:
            raise ValueError(f"{self.method} takes no reference")
        if self.method == "steps":
            if not self.steps:
                raise ValueError("steps needs a list of {at_least, score}")
            bounds = [s.at_least for s in self.steps]
            if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
                raise ValueError("steps must be in increasing order of at_least")
        elif self.steps is not None:
            raise ValueError(f"{self.method} takes no steps")
        return self

    @property
    def uses_table(self) -> bool:
        return self.method == "zscore" or self.reference == "table"


class AlternativeSpec(_Strict):
    """One way of scoring an indicator; with ``best_of`` the enterprise gets the better one."""

    expr: str
    normalise: NormalisationSpec


class IndicatorSpec(_Strict):
    id: Ident
    names: Names
    group: Ident
    expr: str | None = None
    normalise: NormalisationSpec | None = None
    best_of: list[AlternativeSpec] | None = Field(default=None, min_length=2)
    direction: Literal["higher", "lower"] = "higher"
    #: zero: no points (reported as missing data that cost points); peer_median: the peer
    #: group's median raw value stands in
    missing: Literal["zero", "peer_median"] = "zero"
    peer: list[PeerKey] = Field(default_factory=lambda: list[PeerKey](["all"]))
    #: one weight for every stage, or one per stage
    weights: float | dict[str, float]
    #: the what-if step (how much one "unit" of improvement is) and its label
    #: (negative for a lower-is-better indicator: an improvement lowers the value)
    step: float | None = None
    step_label: Names | None = None

    @model_validator(mode="after")
    def _one_form(self) -> IndicatorSpec:
        if self.step == 0:
            raise ValueError("step must not be 0")
        if self.best_of is None and (self.expr is None or self.normalise is None):
            raise ValueError("an indicator needs expr and normalise (or best_of)")
        if self.best_of is not None and (self.expr is not None or self.normalise is not None):
            raise ValueError("best_of replaces expr and normalise; give one or the other")
        return self

    @property
    def alternatives(self) -> list[AlternativeSpec]:
        if self.best_of is not None:
            return list(self.best_of)
        assert self.expr is not None and self.normalise is not None
        return [AlternativeSpec(expr=self.expr, normalise=self.normalise)]


class ReferenceSpec(_Strict):
    """The reference population: a percentile of the national population per group."""

    percentile: float = Field(default=90.0, gt=0, lt=100)
    by: list[PeerKey] = Field(default_factory=lambda: list[PeerKey](["field", "stage"]))
    #: groups with fewer enterprises fall back to the whole population
    min_count: int = Field(default=30, ge=1)


class SizeBands(_Strict):
    """Size bands for peer groups: by a report field, upper bounds of each band but the last."""

    field: str = "employees"
    bounds: list[float] = Field(default_factory=lambda: [20.0, 100.0, 300.0])
    names: list[str] = Field(default_factory=lambda: ["micro", "small", "medium", "large"])

    @model_validator(mode="after")
    def _consistent(self) -> SizeBands:
        if self.field not in FIELDS:
            raise ValueError(f"unknown report field {self.field!r}")
        if self.bounds != sorted(self.bounds) or len(self.names) != len(self.bounds) + 1:
            raise ValueError("bounds must increase and there must be one name more than bounds")
        return self


class RuleSpec(_Strict):
    id: Ident
    names: Names
    expr: str


class QualificationSpec(_Strict):
    """A rule set's verdict: conditions all must meet, then ``pass`` or one ``direct`` rule."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    conditions: list[RuleSpec] = Field(default_factory=list)
    pass_: str = Field(alias="pass")
    direct: list[RuleSpec] = Field(default_factory=list)


class SystemSpec(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=40)]
    version: str
    names: Names
    description: str | None = None
    extends: str | None = None
    #: full marks of the core groups, for every stage
    scale: float = Field(gt=0)
    stages: list[str] = Field(default_factory=lambda: ["startup", "growth", "stable"])
    #: the stage used for enterprises whose stage is not known
    default_stage: str = "growth"
    size_bands: SizeBands = Field(default_factory=SizeBands)
    reference: ReferenceSpec = Field(default_factory=ReferenceSpec)
    groups: list[GroupSpec] = Field(default_factory=list)
    derived: dict[Ident, str] = Field(default_factory=dict)
    indicators: list[IndicatorSpec] = Field(default_factory=list)
    qualification: QualificationSpec | None = None


@dataclass(frozen=True)
class Alternative:
    expr: Expression
    normalise: NormalisationSpec


@dataclass(frozen=True)
class Indicator:
    spec: IndicatorSpec
    alternatives: tuple[Alternative, ...]
    group: GroupSpec

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    expr: Expression


@dataclass(frozen=True)
class System:
    """A validated, compiled indicator system."""

    spec: SystemSpec
    sha256: str
    #: derived values in evaluation order
    derived: tuple[tuple[str, Expression], ...]
    #: indicators in file order (results are stored in this order)
    indicators: tuple[Indicator, ...]
    #: indices into `indicators` in evaluation order (an indicator after those it reads)
    order: tuple[int, ...]
    #: (indicators × stages) weights
    weights: npt.NDArray[np.float64]
    conditions: tuple[Rule, ...]
    passing: Expression | None
    direct: tuple[Rule, ...]

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def stages(self) -> list[str]:
        return self.spec.stages

    @property
    def groups(self) -> list[GroupSpec]:
        return self.spec.groups

    def needs(self, prefix: str) -> list[str]:
        """Codes read through ``prefix`` (``prev:``, ``cert:``, ``ext:``) by any expression."""
        used: set[str] = set()
        for expr in self.expressions():
            used.update(n[len(prefix) :] for n in expr.names if n.startswith(prefix))
        return sorted(used)

    def expressions(self) -> list[Expression]:
        out = [e for _, e in self.derived]
        out += [a.expr for ind in self.indicators for a in ind.alternatives]
        out += [r.expr for r in (*self.conditions, *self.direct)]
        return out + ([self.passing] if self.passing is not None else [])

    def document(self) -> dict[str, Any]:
        return self.spec.model_dump(mode="json", by_alias=True, exclude_none=True)


def shipped_systems() -> list[str]:
    folder = resources.files("innofin.scoring") / "systems"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_system(
    name_or_path: str | Path, *, certifications: frozenset[str] | None = None
) -> System:
    """A shipped system by name (``default``, ``tech-sme``, …) or a YAML file by path."""
    doc = _read(name_or_path)
    return compile_system(doc, certifications=certifications)


def _read(name_or_path: str | Path) -> YamlDocument:
    text_path = str(name_or_path)
    if text_path in shipped_systems():
        ref = resources.files("innofin.scoring") / "systems" / f"{text_path}.yaml"
        return load_yaml(ref.read_text(encoding="utf-8"), f"{text_path}.yaml")
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(shipped_systems())
        raise YamlError(f"no indicator system {text_path!r}: not a file, nor one of: {known}")
    return load_yaml(path.read_text(encoding="utf-8"), str(path))


def _validate(doc: YamlDocument) -> SystemSpec:
    if not isinstance(doc.data, dict):
        raise doc.error((), "an indicator system is a mapping (id, version, groups, indicators…)")
    try:
        return SystemSpec.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors()
        # a misspelt key is reported twice: as unknown, and as the field it was meant to be
        # (missing); the unknown one names the line of the typo, and the missing one the fix
        unknown = [e for e in errors if e["type"] == "extra_forbidden"]
        first = unknown[0] if unknown else errors[0]
        loc = [p for p in first["loc"] if isinstance(p, str | int)]
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            missing = [
                str(e["loc"][-1])
                for e in errors
                if e["type"] == "missing" and e["loc"][:-1] == first["loc"][:-1]
            ]
            message = f"unknown field {loc[-1]!r}" + _did_you_mean(str(loc[-1]), missing)
        raise doc.error(loc, message) from None


def _did_you_mean(key: str, missing: list[str]) -> str:
    """The closest field name: first among the required ones missing beside it, else any."""
    for candidates in (missing, _field_names()):
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
        if close:
            return f" (did you mean {close[0]!r}?)"
    return ""


@functools.cache
def _field_names() -> list[str]:
    """Every key a system file may use, at any level."""
    return sorted(
        {
            info.alias or name
            for model in _Strict.__subclasses__()
            for name, info in model.model_fields.items()
        }
    )


def _merge(base: SystemSpec, ext: SystemSpec, doc: YamlDocument) -> SystemSpec:
    """An extension adds groups, derived values and indicators; it may not redefine them."""
    for key, mine, theirs in (
        ("groups", [g.id for g in ext.groups], {g.id for g in base.groups}),
        ("indicators", [i.id for i in ext.indicators], {i.id for i in base.indicators}),
        ("derived", list(ext.derived), set(base.derived)),
    ):
        for i, item in enumerate(mine):
            if item in theirs:
                loc: list[str | int] = [key, i] if key != "derived" else [key, item]
                raise doc.error(loc, f"{item!r} is already defined by {base.id}")
    data = base.model_dump(by_alias=True)
    own = ext.model_dump(by_alias=True, exclude_unset=True)
    data.update({k: v for k, v in own.items() if k not in ("groups", "indicators", "derived")})
    data["groups"] = data["groups"] + own.get("groups", [])
    data["indicators"] = data["indicators"] + own.get("indicators", [])
    data["derived"] = {**data["derived"], **own.get("derived", {})}
    data["extends"] = ext.extends
    return SystemSpec.model_validate(data)


def compile_system(
    doc: YamlDocument, *, certifications: frozenset[str] | None = None, _depth: int = 0
) -> System:
    spec = _validate(doc)
    if spec.extends is not None:
        if _depth > 4 or spec.extends == spec.id:
            raise doc.error(["extends"], "systems extend each other in a loop")
        try:
            base = compile_system(
                _read(spec.extends), certifications=certifications, _depth=_depth + 1
            )
        except YamlError as exc:
            raise doc.error(["extends"], f"cannot load {spec.extends!r}: {exc}") from None
        spec = _merge(base.spec, spec, doc)
    return _Compiler(spec, doc, certifications).build()


class _Compiler:
    def __init__(
        self, spec: SystemSpec, doc: YamlDocument, certifications: frozenset[str] | None
    ) -> None:
        self.spec, self.doc, self.certs = spec, doc, certifications
        self.ind_pos = {ind.id: i for i, ind in enumerate(spec.indicators)}

    def loc_of_indicator(self, ind_id: str, *rest: str | int) -> list[str | int]:
        # indices in the merged spec differ from the file's for extensions; find the file's
        for i, item in enumerate(self.doc.data.get("indicators") or []):
            if isinstance(item, dict) and item.get("id") == ind_id:
                return ["indicators", i, *rest]
        return ["extends"]

    def build(self) -> System:
        spec = self.spec
        self.check_unique()
        groups = {g.id: g for g in spec.groups}
        stages = spec.stages
        if spec.default_stage not in stages:
            raise self.doc.error(["default_stage"], f"{spec.default_stage!r} is not in stages")
        names = frozenset(spec.derived) | frozenset(self.ind_pos)
        derived = {
            key: self.parse(text, ["derived", key], names) for key, text in spec.derived.items()
        }
        indicators: list[Indicator] = []
        weights = np.zeros((len(spec.indicators), len(stages)))
        for i, ind in enumerate(spec.indicators):
            if ind.group not in groups:
                raise self.doc.error(
                    self.loc_of_indicator(ind.id, "group"), f"unknown group {ind.group!r}"
                )
            alts = []
            for j, alt in enumerate(ind.alternatives):
                where = ["expr"] if ind.best_of is None else ["best_of", j, "expr"]
                expr = self.parse(alt.expr, self.loc_of_indicator(ind.id, *where), names)
                alts.append(Alternative(expr, alt.normalise))
            indicators.append(Indicator(ind, tuple(alts), groups[ind.group]))
            weights[i] = self.stage_weights(ind)
        self.check_scale(indicators, weights)
        order = self.evaluation_order(derived, indicators)
        qual = spec.qualification
        rule_names = names | RESULT_NAMES | frozenset(groups)
        conditions = passing = None
        direct: tuple[Rule, ...] = ()
        if qual is not None:
            conditions = tuple(
                Rule(r, self.parse(r.expr, ["qualification", "conditions", k, "expr"], rule_names))
                for k, r in enumerate(qual.conditions)
            )
            passing = self.parse(qual.pass_, ["qualification", "pass"], rule_names)
            direct = tuple(
                Rule(r, self.parse(r.expr, ["qualification", "direct", k, "expr"], rule_names))
                for k, r in enumerate(qual.direct)
            )
        document = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return System(
            spec=spec,
            sha256=hashlib.sha256(canonical.encode()).hexdigest(),
            derived=tuple((k, derived[k]) for k in order[0]),
            indicators=tuple(indicators),
            order=tuple(order[1]),
            weights=weights,
            conditions=conditions or (),
            passing=passing,
            direct=direct,
        )

    def check_unique(self) -> None:
        seen: dict[str, str] = {f: "report field" for f in FIELDS}
        seen.update({n: "name" for n in ("age", *RESULT_NAMES)})
        for kind, items in (
            ("groups", [g.id for g in self.spec.groups]),
            ("indicators", [i.id for i in self.spec.indicators]),
        ):
            for k, item in enumerate(items):
                if item in seen:
                    raise self.doc.error([kind, k, "id"], f"{item!r} is already a {seen[item]}")
                seen[item] = kind[:-1]
        for key in self.spec.derived:
            if key in seen:
                raise self.doc.error(["derived", key], f"{key!r} is already a {seen[key]}")
            seen[key] = "derived value"

    def parse(self, text: str, loc: Sequence[str | int], names: frozenset[str]) -> Expression:
        try:
            return parse(text, fields=FIELDS, names=names, certifications=self.certs)
        except ExpressionError as exc:
            raise self.doc.error(list(loc), str(exc)) from None

    def stage_weights(self, ind: IndicatorSpec) -> list[float]:
        stages = self.spec.stages
        if isinstance(ind.weights, float | int):
            return [float(ind.weights)] * len(stages)
        loc = self.loc_of_indicator(ind.id, "weights")
        for stage in stages:
            if stage not in ind.weights:
                raise self.doc.error(loc, f"indicator {ind.id!r} has no weight for stage {stage!r}")
        for stage in ind.weights:
            if stage not in stages:
                raise self.doc.error(loc, f"unknown stage {stage!r} (stages: {', '.join(stages)})")
        for stage, w in ind.weights.items():
            if w < 0:
                raise self.doc.error(loc, f"weight for stage {stage!r} is negative")
        return [float(ind.weights[s]) for s in stages]

    def check_scale(self, indicators: list[Indicator], weights: npt.NDArray[np.float64]) -> None:
        core = np.array([ind.group.kind == "core" for ind in indicators], dtype=bool)
        if not core.any():
            raise self.doc.error(["indicators"], "a system needs at least one core indicator")
        totals = weights[core].sum(axis=0)
        for stage, total in zip(self.spec.stages, totals, strict=True):
            if abs(total - self.spec.scale) > 1e-9 * max(1.0, self.spec.scale):
                raise self.doc.error(
                    ["scale"],
                    f"core weights for stage {stage!r} add up to {total:g}, "
                    f"not the scale {self.spec.scale:g}",
                )

    def evaluation_order(
        self, derived: Mapping[str, Expression], indicators: list[Indicator]
    ) -> tuple[list[str], list[int]]:
        """Topological order over derived values and indicators; a cycle is an error."""
        reads: dict[str, set[str]] = {k: set(e.names) for k, e in derived.items()}
        for ind in indicators:
            reads[ind.id] = set().union(*(a.expr.names for a in ind.alternatives))
        done: list[str] = []
        state: dict[str, int] = {}

        def visit(node: str, trail: list[str]) -> None:
            if state.get(node) == 2:
                return
            if state.get(node) == 1:
                cycle = [*trail[trail.index(node) :], node]
                loc = ["derived", node] if node in derived else self.loc_of_indicator(node, "expr")
                raise self.doc.error(
                    loc, "expressions refer to each other in a cycle: " + " → ".join(cycle)
                )
            state[node] = 1
            for dep in sorted(reads[node] & reads.keys()):
                visit(dep, [*trail, node])
            state[node] = 2
            done.append(node)

        for node in [*derived, *(i.id for i in indicators)]:
            visit(node, [])
        return [n for n in done if n in derived], [
            self.ind_pos[n] for n in done if n in self.ind_pos
        ]


def system_summary(system: System) -> dict[str, Any]:
    """Counts for display: indicators per group and the scale."""
    per_group: dict[str, int] = {}
    for ind in system.indicators:
        per_group[ind.group.id] = per_group.get(ind.group.id, 0) + 1
    return {
        "id": system.id,
        "version": system.spec.version,
        "scale": system.spec.scale,
        "sha256": system.sha256,
        "groups": per_group,
    }
