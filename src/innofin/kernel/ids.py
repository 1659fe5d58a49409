"""Enterprise identifiers with their scheme.

The default scheme is the Unified Social Credit Code (统一社会信用代码, GB 32100-2015), checked with
`stdnum.cn.uscc` (check character and format). Other schemes are kept as given (trimmed), so that
programmes outside mainland China, and public loan data from other countries, can be loaded.
"""

from __future__ import annotations

from enum import StrEnum

from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc

from innofin.kernel.errors import InvalidIdentifier


class IdScheme(StrEnum):
    USCC = "uscc"  # 统一社会信用代码
    LEI = "lei"  # Legal Entity Identifier
    EIN = "ein"  # US Employer Identification Number
    DUNS = "duns"
    OTHER = "other"  # kept as given


def normalise_identifier(value: str, scheme: IdScheme | str = IdScheme.USCC) -> str:
    """Return the canonical form of `value` under `scheme`, or raise `InvalidIdentifier`."""
    try:
        scheme = IdScheme(scheme)
    except ValueError:
        known = ", ".join(s.value for s in IdScheme)
        raise InvalidIdentifier(
            f"unknown identifier scheme {scheme!r}: use one of {known}", field="id_scheme"
        ) from None
    text = (value or "").strip()
    if not text:
        raise InvalidIdentifier("identifier is empty", field="identifier")
    if scheme is not IdScheme.USCC:
        if len(text) > 64:
            raise InvalidIdentifier("identifier longer than 64 characters", field="identifier")
        return text
    try:
        return str(uscc.validate(text))
    except stdnum_errors.InvalidChecksum:
        expected = uscc.calc_check_digit(uscc.compact(text)[:-1])
        raise InvalidIdentifier(
            f"USCC {text!r} has a bad check character (expected {expected!r})", field="identifier"
        ) from None
    except stdnum_errors.InvalidLength:
        raise InvalidIdentifier(
            f"USCC {text!r} must have 18 characters", field="identifier"
        ) from None
    except stdnum_errors.ValidationError as exc:
        raise InvalidIdentifier(f"USCC {text!r} is not valid: {exc}", field="identifier") from None


def make_uscc(body17: str) -> str:
    """Append the check character to 17 USCC characters (used by the demo generator and tests)."""
    if len(body17) != 17 or any(c not in _USCC_ALPHABET for c in body17):
        raise InvalidIdentifier(
            f"USCC body {body17!r} must be 17 characters of {_USCC_ALPHABET}", field="identifier"
        )
    return body17 + str(uscc.calc_check_digit(body17))


#: GB 32100-2015 characters: digits and capitals without I, O, Z, S, V.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
