"""The pages' message catalogue: which texts the templates and page code mark for translation,
and the Chinese catalogue that must translate each of them.

``python -m innofin.web.catalogue`` adds newly marked texts to ``messages.po`` (with an empty
translation, to fill in) and drops texts no longer marked; `tests/unit/test_web_catalogue.py`
fails while a marked text has no Chinese.
"""

from __future__ import annotations

from pathlib import Path

from innofin.web.i18n import CATALOGUES, catalogue_path

HERE = Path(__file__).parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [
    ("templates/**.html", "jinja2.ext:babel_extract"),
    ("**.py", "python"),
]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true"}}


def marked() -> dict[str, list[str]]:
    """Every marked text → where it is marked (file:line)."""
    from babel.messages.extract import extract_from_dir

    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        HERE, METHODS, OPTIONS, keywords=KEYWORDS
    ):
        texts = message if isinstance(message, tuple) else (message,)
        for text in texts:
            if text:
                found.setdefault(text, []).append(f"{filename}:{lineno}")
    return found


def update(lang: str = "zh") -> tuple[int, int]:
    """Add marked texts missing from the catalogue and drop unmarked ones; (added, dropped)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    path = catalogue_path(lang)
    if path.exists():
        with path.open("rb") as f:
            old = read_po(f, locale=CATALOGUES[lang])
    else:
        old = Catalog(locale=CATALOGUES[lang])
    texts = marked()
    new = Catalog(locale=CATALOGUES[lang], project="innofin", fuzzy=False)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, new, width=100, sort_output=True, include_lineno=False)
    return added, dropped


if __name__ == "__main__":
    added, dropped = update()
    print(f"catalogue: {added} texts added, {dropped} dropped ({catalogue_path('zh')})")
