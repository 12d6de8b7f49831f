"""The Jinja2 setup shared by web pages and emails: i18n extension and Babel filters."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from managely import i18n

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def configure(env: Environment) -> None:
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(i18n.FILTERS)
    env.globals.update(
        current_locale=i18n.current_locale,
        is_rtl=i18n.is_rtl,
        LANGUAGE_NAMES=i18n.LANGUAGE_NAMES,
        localized=i18n.localized,
    )


@lru_cache(maxsize=1)
def standalone_env() -> Environment:
    """Templates outside a request (emails, PDFs rendered by jobs)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    configure(env)
    return env


def render(template_name: str, /, **context: object) -> str:
    return standalone_env().get_template(template_name).render(**context)
