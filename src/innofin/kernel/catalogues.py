"""gettext catalogues: texts marked with ``_()`` / ``N_()`` in English (the message ids), a
``.po`` file per other language holding the translations.

Shared by the web pages' catalogue (`innofin.web.i18n`) and the programme reports' catalogue
(`innofin.monitoring.reports.text`). A catalogue is compiled in memory (Babel) when first used, so
nothing needs compiling at set-up; `marked` and `update` keep a ``.po`` file in step with the
texts marked in a folder's source.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path
from typing import Any

#: the marking functions Babel looks for (``N_`` marks a text where it is defined)
KEYWORDS: dict[str, Any] = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def N_(text: str) -> str:
    """Mark a text for the catalogue where it is defined; it is translated where shown."""
    return text


@cache
def compiled(po_path: Path, locale: str) -> gettext.NullTranslations:
    """The translations of a ``.po`` file, compiled in memory (fuzzy entries left out)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    mo = io.BytesIO()
    write_mo(mo, catalog, use_fuzzy=False)
    mo.seek(0)
    return gettext.GNUTranslations(mo)


def marked(
    root: Path,
    methods: list[tuple[str, str]],
    options: dict[str, dict[str, str]] | None = None,
) -> dict[str, list[str]]:
    """Every text marked in the files under `root` that `methods` name → where (file:line)."""
    from babel.messages.extract import extract_from_dir

    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        root, methods, options or {}, keywords=KEYWORDS
    ):
        texts = message if isinstance(message, tuple) else (message,)
        for text in texts:
            if text:
                found.setdefault(text, []).append(f"{filename}:{lineno}")
    return found


def update(po_path: Path, locale: str, texts: dict[str, list[str]]) -> tuple[int, int]:
    """Add the marked `texts` missing from the ``.po`` file (with an empty translation, to fill
    in) and drop those no longer marked; (added, dropped)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    if po_path.exists():
        with po_path.open("rb") as f:
            old = read_po(f, locale=locale)
    else:
        old = Catalog(locale=locale)
    new = Catalog(locale=locale, project="innofin", fuzzy=False)
    new.creation_date = new.revision_date = old.creation_date  # no churn in the header
    for text, places in sorted(texts.items()):
        known = old.get(text)
        new.add(
            text,
            known.string if known is not None else "",
            locations=[(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in places],
        )
    added = sum(1 for t in texts if old.get(t) is None)
    dropped = sum(1 for m in old if m.id and m.id not in texts)
    po_path.parent.mkdir(parents=True, exist_ok=True)
    with po_path.open("wb") as f:
        write_po(f, new, width=100, sort_output=True, include_lineno=False)
    return added, dropped


def translations_of(po_path: Path, locale: str) -> dict[str, str]:
    """The ``.po`` file's message id → translation (empty where not yet translated)."""
    from babel.messages.pofile import read_po

    with po_path.open("rb") as f:
        return {
            m.id: m.string if isinstance(m.string, str) else ""
            for m in read_po(f, locale=locale)
            if isinstance(m.id, str) and m.id
        }
