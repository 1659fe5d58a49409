"""Rendering: one Jinja2 environment per language, the display filters, the CSRF token, and the
headers every page carries (a Content-Security-Policy that loads nothing from another host)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final

import jinja2
from jinja2 import nodes
from jinja2.visitor import NodeTransformer
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from innofin import __version__
from innofin.kernel.money import AmountUnit, amount_in, column_unit, format_number, unit_label
from innofin.web import i18n

TEMPLATES: Final = Path(__file__).parent / "templates"
CSRF_COOKIE: Final = "innofin_csrf"
CSRF_FIELD: Final = "csrf"
ONCE_FIELD: Final = "once"

#: every page: scripts, styles, images and connections from this server only; no frames
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def N_(text: str) -> str:
    """Mark a text for the catalogue where it is defined; it is translated where shown."""
    return text


def _date(value: dt.date | dt.datetime | None) -> str:
    """Dates as YYYY-MM-DD (a moment: the day in UTC)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return (value.astimezone(dt.UTC) if value.tzinfo else value).date().isoformat()
    return value.isoformat()


def _moment(value: dt.datetime | None) -> str:
    """A moment as YYYY-MM-DD HH:MM (UTC)."""
    if value is None:
        return ""
    return (value.astimezone(dt.UTC) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M")


def _amount(value: Decimal | None, unit: AmountUnit) -> str:
    return amount_in(value, unit)


def _points(value: float | None, places: int = 2) -> str:
    if value is None:
        return ""
    text = f"{value:,.{places}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text  # no "-0.00"


def _option_tags(options: Iterable[tuple[str, str]], chosen: str) -> Markup:
    """A select's options, (value, text) strings, the chosen value selected: one join rather
    than a template loop (the enterprise list's zone filter has an option per zone). A tuple
    of options is made once per choice (kept by its content, so never stale)."""
    if isinstance(options, tuple):
        return _option_tags_of(options, chosen)
    return _join_options(options, chosen)


@lru_cache(maxsize=512)
def _option_tags_of(options: tuple[tuple[str, str], ...], chosen: str) -> Markup:
    return _join_options(options, chosen)


def _join_options(options: Iterable[tuple[str, str]], chosen: str) -> Markup:
    return Markup(
        "".join(
            f'<option value="{escape(value)}"{" selected" if value == chosen else ""}'
            f' translate="no">{escape(text)}</option>'
            for value, text in options
        )
    )


def translated(gettext: Any, text: str) -> Markup:
    """`text` translated as a template's ``_(text)`` gives it (Jinja's new-style gettext: the
    translation is safe markup, always formatted, so ``%%`` is ``%``)."""
    return Markup(gettext(text)) % {}


class _Literals(NodeTransformer):
    """``_("a literal")`` translated when the template is compiled, in the language of its
    environment: the same markup the call gives at rendering (a page has about a hundred such
    texts, each a chain of calls at rendering); with values, ``_("… %(n)s", n=x)``, the values
    are still put in at rendering, escaped as the call escapes them. Any other ``_()`` is left
    to the call."""

    def __init__(self, gettext: Any) -> None:
        self.gettext = gettext

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        self.generic_visit(node)
        if not (
            isinstance(node.node, nodes.Name)
            and node.node.name == "_"
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            return node
        text = Markup(self.gettext(node.args[0].value))
        if node.kwargs:
            values = [nodes.Pair(nodes.Const(k.key), k.value) for k in node.kwargs]
            shown = nodes.MarkSafe(nodes.Const(str(text)))
            found: nodes.Node = nodes.Mod(shown, nodes.Dict(values))
        else:
            try:
                found = nodes.MarkSafe(nodes.Const(str(text % {})))
            except (KeyError, TypeError, ValueError):  # a text that needs values: as the call fails
                return node
        return found.set_lineno(node.lineno)


class _Environment(jinja2.Environment):
    """An environment whose templates have their literal texts translated by `gettext` (see
    `_Literals`); it installs the same translations for every other ``_()``."""

    def __init__(self, gettext: Any, **options: Any) -> None:
        super().__init__(**options)
        self.text_gettext = gettext

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        done: nodes.Template = _Literals(self.text_gettext).visit(tree)
        done.set_environment(self)  # the new nodes' too
        return done


@cache
def environment(lang: str) -> jinja2.Environment:
    translations = i18n.translations(lang)
    env = _Environment(
        translations.gettext,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        date=_date,
        moment=_moment,
        amount=_amount,
        points=_points,
        number=format_number,
    )
    env.globals.update(
        lang=lang,
        other_lang="en" if lang == "zh" else "zh",
        lang_names=i18n.NAMES,
        version=__version__,
        column_unit=column_unit,
        unit_label=lambda unit: unit_label(unit, lang),
        option_tags=_option_tags,
    )
    return env


def gettext_for(lang: str) -> Any:
    return i18n.translations(lang).gettext


def csrf_token(secret: str, seed: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(request: Request, secret: str, sent: str | None) -> bool:
    """The form's token matches the visitor's CSRF cookie (signed with the server's secret)."""
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed or not sent:
        return False
    return hmac.compare_digest(csrf_token(secret, seed), sent)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    """The page `template` in the visitor's language, with the shared context (the signed-in
    user, the navigation it may use, the CSRF token) and the security headers."""
    from innofin.web.nav import navigation

    state = request.app.state.innofin
    lang = i18n.language(request)
    gettext = i18n.translations(lang).gettext
    seed = request.cookies.get(CSRF_COOKIE)
    new_seed = None
    if not seed:
        seed = new_seed = secrets.token_urlsafe(32)
    principal = getattr(request.state, "principal", None)
    token = csrf_token(state.secret, seed)
    shared = {
        "request": request,
        "user": principal,
        # the menu's labels translated here: a template's ``_(item.label)`` costs far more
        "nav": [
            (item.href, translated(gettext, item.label), current)
            for item, current in navigation(principal, request.url.path)
        ],
        "csrf": Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{token}">'),
        "csrf_value": token,
        # a key per rendering of a form (see `innofin.web.forms.perform`)
        "once": Markup(
            f'<input type="hidden" name="{ONCE_FIELD}" value="{secrets.token_urlsafe(16)}">'
        ),
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    html = environment(lang).get_template(template).render({**shared, **context})
    response = HTMLResponse(html, status_code, headers=SECURITY_HEADERS)
    response.headers["Content-Language"] = "zh-CN" if lang == "zh" else "en"
    if new_seed is not None:
        from innofin.access.routes import secure_cookie

        secure = secure_cookie(request, state.settings)
        response.set_cookie(CSRF_COOKIE, new_seed, httponly=True, samesite="strict", secure=secure)
    return response
