"""Numbers and dates as people type them: full-width forms folded to ASCII before parsing.

Files typed with a Chinese input method hold full-width digits, signs and separators
(``１２５００００``, ``－５``, ``１，０００．５０``) and ideographic spaces. Everywhere innofin
reads a number or a date — file cells, API amounts, CLI options — the text is first folded with
`fold_width`: Unicode NFKC restricted to its width and space mappings (full-width ASCII forms
U+FF01–U+FF5E, the ideographic and other no-break or fixed-width spaces), plus the minus sign
U+2212. Other look-alikes that full NFKC would also turn into digits — superscripts (``10²`` would
become ``102``), circled numbers, digits of other scripts — are not folded: the parsers, which
accept ASCII digits only, refuse them with a reason instead of guessing.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Final

_SPACES: Final = (0x00A0, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)
#: the characters `fold_width` changes, and what each becomes
WIDTH_FOLDS: Final[dict[str, str]] = {
    **{chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFF01, 0xFF5F)},
    **{chr(c): " " for c in _SPACES},
    "\u2212": "-",  # MINUS SIGN, as word processors write it
}
_TABLE: Final = str.maketrans(WIDTH_FOLDS)

#: a plain decimal in ASCII: sign, digits, at most one point, an optional exponent
_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def fold_width(text: str) -> str:
    """`text` with full-width forms and Unicode spaces as their ASCII forms (see the module)."""
    return text.translate(_TABLE) if not text.isascii() else text


def plain_decimal(text: str) -> Decimal | None:
    """`text` (already folded, separators removed) as a Decimal if it is a plain decimal number
    in ASCII — not ``1_000``, ``NaN``, ``Infinity`` or digits of other scripts, all of which
    `Decimal` itself would take; else None."""
    if _DECIMAL.fullmatch(text) is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None
