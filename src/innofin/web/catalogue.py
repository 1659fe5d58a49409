"""The pages' message catalogue: which texts the templates and page code mark for translation,
and the Chinese catalogue that must translate each of them.

``python -m innofin.web.catalogue`` adds newly marked texts to ``messages.po`` (with an empty
translation, to fill in) and drops texts no longer marked; `tests/unit/test_web_catalogue.py`
fails while a marked text has no Chinese.
"""

from __future__ import annotations

from pathlib import Path

from innofin.kernel import catalogues
from innofin.web.i18n import CATALOGUES, catalogue_path

HERE = Path(__file__).parent
METHODS = [
    ("templates/**.html", "jinja2.ext:babel_extract"),
    ("**.py", "python"),
]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true"}}


def marked() -> dict[str, list[str]]:
    """Every marked text → where it is marked (file:line)."""
    return catalogues.marked(HERE, METHODS, OPTIONS)


def update(lang: str = "zh") -> tuple[int, int]:
    """Add marked texts missing from the catalogue and drop unmarked ones; (added, dropped)."""
    return catalogues.update(catalogue_path(lang), CATALOGUES[lang], marked())


if __name__ == "__main__":
    added, dropped = update()
    print(f"catalogue: {added} texts added, {dropped} dropped ({catalogue_path('zh')})")
