"""The reports' texts: every text marked in the report modules has a Chinese translation with
the same placeholders, and the catalogue holds nothing stale."""

from __future__ import annotations

import re

from innofin.kernel.catalogues import translations_of
from innofin.monitoring.reports import text as report_text


def test_every_marked_report_text_has_a_chinese_translation() -> None:
    marked = report_text.marked()
    assert "Programme report" in marked
    translated = translations_of(report_text.CATALOGUE, report_text.LOCALE)
    missing = {t: p for t, p in marked.items() if not translated.get(t)}
    assert not missing, (
        f"texts without Chinese (python -m innofin.monitoring.reports.text): {missing}"
    )
    stale = set(translated) - set(marked)
    assert not stale, f"catalogue texts no longer used: {stale}"
    for text, chinese in translated.items():
        assert sorted(re.findall(r"%\(\w+\)s", text)) == sorted(
            re.findall(r"%\(\w+\)s", chinese)
        ), text


def test_the_report_words_translate() -> None:
    assert report_text.words("zh")("Programme report") == "项目监测报告"
    assert report_text.words("en")("Programme report") == "Programme report"
