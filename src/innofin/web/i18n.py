"""The pages' languages: Chinese (default) and English, through gettext catalogues.

Templates and page code mark every visible text with ``_()``; the English text is the message
id, and `locale/zh_Hans/LC_MESSAGES/messages.po` holds the Chinese. The catalogue is compiled in
memory when the pages are built (Babel), so nothing needs compiling at set-up and a fresh clone
works as it is; `tests/unit/test_web_catalogue.py` fails when a marked text has no translation.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path
from typing import Final

from starlette.requests import Request

from innofin.kernel.catalogues import compiled

LANGS: Final = ("zh", "en")
DEFAULT: Final = "zh"
COOKIE: Final = "innofin_lang"
#: the catalogue of each language (English is the message ids themselves)
CATALOGUES: Final = {"zh": "zh_Hans"}
LOCALE_DIR: Final = Path(__file__).parent / "locale"


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / CATALOGUES[lang] / "LC_MESSAGES" / "messages.po"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled translations of `lang` (the English ids pass through unchanged), made once
    per process."""
    if lang not in CATALOGUES:
        return gettext.NullTranslations()
    return compiled(catalogue_path(lang), CATALOGUES[lang])


def language(request: Request) -> str:
    """The visitor's language: the one chosen with the switch (a cookie), else Chinese."""
    chosen = request.cookies.get(COOKIE)
    return chosen if chosen in LANGS else DEFAULT


#: each language's name in itself, for the switch (shown as is in both languages)
NAMES: Final = {"zh": "中文", "en": "English"}
