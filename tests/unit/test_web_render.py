"""The pages' environment translates a template's literal texts when it compiles it; what a page
shows must be what Jinja's own ``_()`` call gives at rendering, for every text of the catalogue
and with values put in (escaped) as the call puts them in."""

from __future__ import annotations

import json

import jinja2
import pytest
from babel.messages.pofile import read_po
from markupsafe import Markup

from innofin.web import i18n
from innofin.web.render import _option_tags, environment


def _texts() -> list[str]:
    """Every text of the catalogue that needs no values."""
    with i18n.catalogue_path("zh").open("rb") as f:
        return sorted(m.id for m in read_po(f, locale="zh_Hans") if m.id and "%(" not in m.id)


def _called(lang: str) -> jinja2.Environment:
    """Jinja's own i18n: every ``_()`` a call at rendering."""
    env = jinja2.Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_literal_texts_are_translated_as_the_call_translates_them(lang: str) -> None:
    texts = _texts()
    assert len(texts) > 100
    source = "\n".join("{{ _(" + json.dumps(t, ensure_ascii=False) + ") }}" for t in texts)
    compiled = environment(lang).from_string(source)
    assert "resolve('_')" not in environment(lang).compile(source, raw=True)  # no call left
    called = _called(lang).from_string("\n".join(f"{{{{ _(t[{i}]) }}}}" for i in range(len(texts))))
    assert compiled.render() == called.render(t=texts)
    if lang == "zh":
        assert "登录" in compiled.render()


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_texts_with_values_escape_the_values(lang: str) -> None:
    text = "%(count)s enterprises found."
    source = '{{ _("' + text + '", count=n) }}|{{ _("100%% sure") }}'
    shown = environment(lang).from_string(source).render(n="<b>5</b>")
    expected = _called(lang).from_string("{{ _(t, count=n) }}|{{ _(u) }}")
    assert shown == expected.render(t=text, u="100%% sure", n="<b>5</b>")
    assert "&lt;b&gt;5&lt;/b&gt;" in shown and shown.endswith("|100% sure")


def test_a_text_that_lacks_its_values_fails_as_the_call_fails() -> None:
    with pytest.raises(KeyError):
        environment("en").from_string('{{ _("%(count)s enterprises found.") }}').render()


def test_option_tags_follow_the_choice_and_the_options() -> None:
    zones = (("1", "A & B"), ("2", "C"))
    first = _option_tags(zones, "2")
    assert first == Markup(
        '<option value="1" translate="no">A &amp; B</option>'
        '<option value="2" selected translate="no">C</option>'
    )
    assert 'value="1" selected' in _option_tags(zones, "1")
    renamed = (("1", "A & B"), ("2", "D"))  # the same choice among other options: not the old
    assert ">D</option>" in _option_tags(renamed, "2")
    assert _option_tags(list(zones), "2") == first  # a list: made each time, the same tags
