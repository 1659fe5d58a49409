"""The programme reports' languages: Chinese (``zh``) and English (``en``).

Every text a report shows is an English message id marked with ``N_`` in the report modules
(``monitoring/reports/*.py``); ``locale/zh_Hans/LC_MESSAGES/reports.po`` holds the Chinese.
``python -m innofin.monitoring.reports.text`` adds newly marked texts to it (to translate) and
drops unmarked ones; `tests/unit/test_report_catalogue.py` fails while one has no Chinese.
"""

from __future__ import annotations

import gettext
from pathlib import Path
from typing import Final

from innofin.kernel import catalogues
from innofin.kernel.errors import InvalidInput
from innofin.monitoring.reports.model import LANGS, Words

HERE: Final = Path(__file__).parent
LOCALE: Final = "zh_Hans"
CATALOGUE: Final = HERE / "locale" / LOCALE / "LC_MESSAGES" / "reports.po"
METHODS: Final = [("*.py", "python")]


def words(lang: str) -> Words:
    """The report texts of `lang` (``zh`` or ``en``)."""
    if lang not in LANGS:
        raise InvalidInput(f"--lang must be zh or en, not {lang!r}", field="lang")
    if lang == "en":
        return Words("en", gettext.NullTranslations().gettext)
    return Words("zh", catalogues.compiled(CATALOGUE, LOCALE).gettext)


def marked() -> dict[str, list[str]]:
    """Every text marked in the report modules → where (file:line)."""
    return catalogues.marked(HERE, METHODS)


if __name__ == "__main__":
    added, dropped = catalogues.update(CATALOGUE, LOCALE, marked())
    print(f"report catalogue: {added} texts added, {dropped} dropped ({CATALOGUE})")
