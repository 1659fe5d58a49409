"""The pages' texts: every text marked for translation in the templates and page code has a
Chinese translation, the catalogue holds nothing stale, and no template shows an unmarked text."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from innofin.web import catalogue, i18n

TEMPLATES = Path(catalogue.HERE) / "templates"


def _catalogue() -> dict[str, str]:
    with i18n.catalogue_path("zh").open("rb") as f:
        return {m.id: m.string for m in read_po(f, locale="zh_Hans") if m.id}


def test_every_marked_text_has_a_chinese_translation() -> None:
    marked = catalogue.marked()
    assert len(marked) > 100
    translated = _catalogue()
    missing = {text: places for text, places in marked.items() if not translated.get(text)}
    assert not missing, f"texts without Chinese (python -m innofin.web.catalogue): {missing}"
    stale = set(translated) - set(marked)
    assert not stale, f"catalogue texts no longer used: {stale}"
    for text, chinese in translated.items():  # the same placeholders on both sides
        assert sorted(re.findall(r"%\(\w+\)s", text)) == sorted(
            re.findall(r"%\(\w+\)s", chinese)
        ), text


def test_the_compiled_catalogue_translates() -> None:
    zh = i18n.translations("zh")
    assert zh.gettext("Sign in") == "登录"
    assert i18n.translations("en").gettext("Sign in") == "Sign in"


#: text between tags, outside {{ }} and {% %}, that has letters or CJK
_LITERAL = re.compile(r">([^<>{}]*[A-Za-z\u3400-\u9fff][^<>{}]*)<")


def test_templates_show_no_unmarked_text() -> None:
    """Visible text in templates goes through the catalogue: between tags there is only
    markup, expressions and punctuation (language names in the switch come from i18n.NAMES)."""
    found = []
    for path in TEMPLATES.rglob("*.html"):
        source = re.sub(r"{{.*?}}|{%.*?%}|{#.*?#}", "", path.read_text(), flags=re.S)
        source = re.sub(r"<script.*?</script>|<style.*?</style>", "", source, flags=re.S)
        for match in _LITERAL.finditer(source):
            text = match[1].strip()
            if text:
                found.append(f"{path.name}: {text!r}")
    assert not found, found
