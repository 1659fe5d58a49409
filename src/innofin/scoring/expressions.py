"""The expression language of indicator systems: a small, safe subset of Python expressions.

An indicator's value is written as an expression over the annual report fields, for example
``rd_expense / revenue`` or ``growth(main_revenue)``. Expressions are parsed with :mod:`ast`,
checked against a whitelist (no attribute access, no subscripts, no calls but the functions below)
and compiled to a function over columns (NumPy arrays): one evaluation rates every enterprise.

Values are float64 with NaN for *missing*. Arithmetic on a missing value is missing; a division by
zero is missing; a comparison with a missing value is false. Conditions evaluate to 1.0 / 0.0.

Names:
- the report fields of the scoring year (``revenue``, ``rd_staff``, …);
- ``age`` (whole years since founding at the end of the year);
- the ids of other indicators and of the system's derived values (cycles are refused);
- in qualification rules also ``points`` and the id of each group (its points).

Functions: ``prev(field)`` (last year's value), ``growth(field)`` (this year ÷ last year − 1,
missing unless last year was positive), ``cert("hnte")`` (1 with a certificate of that kind valid at
the end of the year), ``ext("code")`` (an extension indicator's value), ``min``, ``max``, ``abs``,
``log`` (missing for values ≤ 0), ``clip(x, lo, hi)``, ``where(cond, a, b)``,
``coalesce(a, b, …)`` (the first value that is not missing), ``present(x)`` (1 when not missing).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Column = npt.NDArray[np.float64]
Env = Mapping[str, Column]
Compiled = Callable[[Env], Column]


class ExpressionError(ValueError):
    """An expression that cannot be read; the message says what and where in the text."""


@dataclass(frozen=True)
class Expression:
    text: str
    fn: Compiled
    #: names this expression reads (fields, indicators, derived values, ``prev:field`` …)
    names: frozenset[str]

    def __call__(self, env: Env) -> Column:
        return self.fn(env)


#: column-name prefixes for values that come from outside the report of the year
PREV = "prev:"
CERT = "cert:"
EXT = "ext:"

_BINOPS: dict[type[ast.operator], Callable[[Column, Column], Column]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Column, Column], npt.NDArray[np.bool_]]] = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}
_NARY = {"min": np.fmin, "max": np.fmax}


def _divide(a: Column, b: Column) -> Column:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(a, b)
    return np.where(b == 0, np.nan, out)


def _log(a: Column) -> Column:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, np.log(np.where(a > 0, a, 1.0)), np.nan)


def _flag(mask: npt.NDArray[np.bool_]) -> Column:
    return mask.astype(np.float64)


def _truthy(a: Column) -> npt.NDArray[np.bool_]:
    # missing is false
    out: npt.NDArray[np.bool_] = np.nan_to_num(a, nan=0.0) != 0
    return out


def _growth(cur: Column, prev: Column) -> Column:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev > 0, cur / np.where(prev > 0, prev, 1.0) - 1.0, np.nan)


def parse(
    text: str,
    *,
    fields: frozenset[str],
    names: frozenset[str] = frozenset(),
    certifications: frozenset[str] | None = None,
) -> Expression:
    """Parse and compile ``text``; `fields` are report fields, `names` other known values."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"cannot read {text.strip()!r}{col}: {exc.msg}") from None
    compiler = _Compiler(text.strip(), fields, names, certifications)
    fn = compiler.visit(tree.body)
    return Expression(text.strip(), fn, frozenset(compiler.used))


class _Compiler:
    def __init__(
        self,
        text: str,
        fields: frozenset[str],
        names: frozenset[str],
        certifications: frozenset[str] | None,
    ) -> None:
        self.text = text
        self.fields = fields
        self.names = names
        self.certifications = certifications
        self.used: set[str] = set()

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        col = getattr(node, "col_offset", None)
        where = f" (column {col + 1})" if col is not None else ""
        return ExpressionError(f"{message} in {self.text!r}{where}")

    def visit(self, node: ast.expr) -> Compiled:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise self.fail(
                    node, f"only numbers may be written as constants, not {node.value!r}"
                )
            value = float(node.value)
            return lambda env: np.float64(value) + _zeros(env)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            left, right = self.visit(node.left), self.visit(node.right)
            if isinstance(node.op, ast.Div):
                return lambda env: _divide(left(env), right(env))
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
            return lambda env: op(left(env), right(env))
        if isinstance(node, ast.UnaryOp):
            inner = self.visit(node.operand)
            if isinstance(node.op, ast.USub):
                return lambda env: np.negative(inner(env))
            if isinstance(node.op, ast.UAdd):
                return inner
            if isinstance(node.op, ast.Not):
                return lambda env: _flag(~_truthy(inner(env)))
            raise self.fail(node, "operator ~ is not allowed")
        if isinstance(node, ast.BoolOp):
            parts = [self.visit(v) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

            def boolop(env: Env) -> Column:
                acc = _truthy(parts[0](env))
                for part in parts[1:]:
                    acc = combine(acc, _truthy(part(env)))
                return _flag(acc)

            return boolop
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.IfExp):
            cond, yes, no = self.visit(node.test), self.visit(node.body), self.visit(node.orelse)
            return lambda env: np.where(_truthy(cond(env)), yes(env), no(env))
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, f"{type(node).__name__} is not allowed")

    def name(self, node: ast.Name) -> Compiled:
        key = node.id
        if key in self.fields or key in self.names or key == "age":
            self.used.add(key)
            return lambda env: env[key]
        raise self.fail(node, f"unknown name {key!r}")

    def compare(self, node: ast.Compare) -> Compiled:
        first = self.visit(node.left)
        rest = [self.visit(c) for c in node.comparators]
        ops = []
        for op in node.ops:
            fn = _COMPARE.get(type(op))
            if fn is None:
                raise self.fail(node, f"comparison {type(op).__name__} is not allowed")
            ops.append(fn)

        def compare(env: Env) -> Column:
            left = first(env)
            acc = np.ones(left.shape, dtype=bool)
            for fn, right_fn in zip(ops, rest, strict=True):
                right = right_fn(env)
                acc &= fn(left, right)
                if fn is np.not_equal:  # NaN != x is true in IEEE; with a missing value, false
                    acc &= ~(np.isnan(left) | np.isnan(right))
                left = right
            return _flag(acc)

        return compare

    def call(self, node: ast.Call) -> Compiled:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the listed functions may be called")
        if node.keywords:
            raise self.fail(node, "functions take no keyword arguments")
        fname, args = node.func.id, node.args
        if fname in ("prev", "growth"):
            field = self.field_arg(node, fname, args)
            self.used.update((field, PREV + field))
            if fname == "prev":
                return lambda env: env[PREV + field]
            return lambda env: _growth(env[field], env[PREV + field])
        if fname in ("cert", "ext"):
            code = self.code_arg(node, fname, args)
            if (
                fname == "cert"
                and self.certifications is not None
                and (code not in self.certifications)
            ):
                known = ", ".join(sorted(self.certifications))
                raise self.fail(node, f"unknown certification kind {code!r} (known: {known})")
            key = (CERT if fname == "cert" else EXT) + code
            self.used.add(key)
            return lambda env: env[key]
        parts = [self.visit(a) for a in args]
        if fname in _NARY:
            if len(parts) < 2:
                raise self.fail(node, f"{fname}() takes at least two arguments")
            reduce = _NARY[fname]

            def nary(env: Env) -> Column:
                acc = parts[0](env)
                for part in parts[1:]:
                    acc = reduce(acc, part(env))
                return acc

            return nary
        unary: dict[str, Callable[[Column], Column]] = {
            "abs": np.abs,
            "log": _log,
            "present": lambda a: _flag(~np.isnan(a)),
        }
        if fname in unary:
            self.arity(node, fname, parts, 1)
            fn1, arg = unary[fname], parts[0]
            return lambda env: fn1(arg(env))
        if fname == "clip":
            self.arity(node, fname, parts, 3)
            x, lo, hi = parts
            return lambda env: np.clip(x(env), lo(env), hi(env))
        if fname == "where":
            self.arity(node, fname, parts, 3)
            cond, yes, no = parts
            return lambda env: np.where(_truthy(cond(env)), yes(env), no(env))
        if fname == "coalesce":
            if len(parts) < 2:
                raise self.fail(node, "coalesce() takes at least two arguments")

            def coalesce(env: Env) -> Column:
                acc = parts[0](env)
                for part in parts[1:]:
                    acc = np.where(np.isnan(acc), part(env), acc)
                return acc

            return coalesce
        raise self.fail(node, f"unknown function {fname!r}")

    def arity(self, node: ast.AST, fname: str, parts: list[Compiled], n: int) -> None:
        if len(parts) != n:
            raise self.fail(node, f"{fname}() takes {n} argument{'s' if n > 1 else ''}")

    def field_arg(self, node: ast.Call, fname: str, args: list[ast.expr]) -> str:
        if len(args) != 1 or not isinstance(args[0], ast.Name) or args[0].id not in self.fields:
            raise self.fail(node, f"{fname}() takes one report field, e.g. {fname}(revenue)")
        return args[0].id

    def code_arg(self, node: ast.Call, fname: str, args: list[ast.expr]) -> str:
        if (
            len(args) != 1
            or not isinstance(args[0], ast.Constant)
            or not isinstance(args[0].value, str)
        ):
            raise self.fail(node, f'{fname}() takes one quoted code, e.g. {fname}("hnte")')
        return args[0].value


def _zeros(env: Env) -> Column:
    # the length of the columns, for constants
    for value in env.values():
        return np.zeros(len(value))
    return np.zeros(0)
