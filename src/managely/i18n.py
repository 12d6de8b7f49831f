"""Locales, the choice of locale, and the Babel filters templates use for dates and money.

The current locale lives in a context variable, so web requests, jobs rendering an email and
tests all translate through the same ``gettext``. Module-level strings use ``lazy_gettext``.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale, dates, numbers, units
from babel.core import negotiate_locale
from babel.support import LazyProxy, NullTranslations, Translations

LOCALES = ("en", "ar")
DEFAULT_LOCALE = "en"
RTL_LOCALES = frozenset({"ar"})
LANGUAGE_NAMES = {"en": "English", "ar": "العربية"}
LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"

_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
# With Arabic-Indic digits, numbers take the Arabic thousands (٬) and decimal (٫) separators.
_ARABIC_NUMBER = str.maketrans("0123456789,.", "٠١٢٣٤٥٦٧٨٩٬٫")

_locale: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default=DEFAULT_LOCALE)
_arabic_digits: contextvars.ContextVar[bool] = contextvars.ContextVar("ar_digits", default=False)


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> NullTranslations:
    return Translations.load(str(LOCALES_DIR), [locale], domain="messages")


def current_locale() -> str:
    return _locale.get()


def is_rtl(locale: str | None = None) -> bool:
    return (locale or current_locale()) in RTL_LOCALES


def set_locale(locale: str, arabic_digits: bool = False) -> None:
    _locale.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    _arabic_digits.set(arabic_digits)


@contextmanager
def use_locale(locale: str | None, arabic_digits: bool = False) -> Iterator[str]:
    """Translate in ``locale`` inside the block (jobs rendering a customer's email)."""
    chosen = locale if locale in LOCALES else DEFAULT_LOCALE
    tokens = (_locale.set(chosen), _arabic_digits.set(arabic_digits))
    try:
        yield chosen
    finally:
        _locale.reset(tokens[0])
        _arabic_digits.reset(tokens[1])


def select_locale(user_locale: str | None, cookie: str | None, accept_language: str) -> str:
    """User setting, then cookie, then the browser's Accept-Language, then English."""
    for candidate in (user_locale, cookie):
        if candidate in LOCALES:
            return candidate
    preferred = [
        part.split(";")[0].strip().replace("-", "_") for part in accept_language.split(",")
    ]
    chosen = negotiate_locale([p for p in preferred if p], LOCALES, sep="_")
    return chosen or DEFAULT_LOCALE


def gettext(message: str, **variables: object) -> str:
    text = translations(current_locale()).ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(current_locale()).ungettext(singular, plural, n)
    return text % {"num": n, **variables}


def lazy_gettext(message: str, **variables: object) -> LazyProxy:
    return LazyProxy(gettext, message, enable_cache=False, **variables)


class Stored:
    """A message kept in the database untranslated (its catalog id and variables), so each
    reader gets it in their own language: ``str()`` translates in the current locale.
    Variables are strings (names, codes, an error from a host), never translated themselves."""

    __slots__ = ("msgid", "variables")

    def __init__(self, msgid: str, variables: dict[str, str] | None = None) -> None:
        self.msgid, self.variables = msgid, dict(variables or {})

    def __str__(self) -> str:
        return gettext(self.msgid, **self.variables)

    def __repr__(self) -> str:
        return f"Stored({self.msgid!r}, {self.variables!r})"

    def to_json(self) -> list:
        return [self.msgid, self.variables]

    @classmethod
    def from_json(cls, value: object) -> Stored | None:
        """The message a ``to_json`` value holds; None for anything else (an older row)."""
        if not (isinstance(value, list | tuple) and len(value) == 2):
            return None
        msgid, variables = value
        if not isinstance(msgid, str) or not isinstance(variables, dict):
            return None
        return cls(msgid, {str(k): str(v) for k, v in variables.items()})


def stored(msgid: str, **variables: object) -> Stored:
    """Mark ``msgid`` for the catalogs and keep it, with ``variables``, to translate later."""
    return Stored(msgid, {name: str(value) for name, value in variables.items()})


_ = gettext
_l = lazy_gettext


def uses_arabic_digits() -> bool:
    """Whether numbers are shown with Arabic-Indic digits for this request."""
    return bool(_arabic_digits.get() and current_locale() == "ar")


_NUMBER_RUN = re.compile(r"\d[\d,.]*\d|\d")


def _digits(text: str, number: bool = False) -> str:
    if not (_arabic_digits.get() and current_locale() == "ar"):
        return text
    if number:
        # Only runs of digits change separators: "ر.س." keeps its dots.
        return _NUMBER_RUN.sub(lambda m: m.group().translate(_ARABIC_NUMBER), text)
    return text.translate(_ARABIC_INDIC)


def _babel_locale() -> Locale:
    return Locale.parse(current_locale())


def format_number(value: int | float | Decimal) -> str:
    return _digits(numbers.format_decimal(value, locale=_babel_locale()), number=True)


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Minor units (cents, halalas…) to a Decimal in major units, for display only."""
    return Decimal(amount_minor).scaleb(-numbers.get_currency_precision(currency))


def format_money(amount_minor: int, currency: str) -> str:
    value = minor_to_decimal(amount_minor, currency)
    return _digits(numbers.format_currency(value, currency, locale=_babel_locale()), number=True)


def format_datetime(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return _digits(dates.format_datetime(value, fmt, tzinfo=dates.UTC, locale=_babel_locale()))


def format_date(value: date | datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return _digits(dates.format_date(value, fmt, locale=_babel_locale()))


def format_timedelta(seconds: float) -> str:
    return _digits(dates.format_timedelta(seconds, locale=_babel_locale()))


_BYTE_UNITS = ("digital-byte", "digital-kilobyte", "digital-megabyte", "digital-gigabyte")


def format_bytes(value: int | float) -> str:
    """A size with the largest unit that keeps it at 1 or more (binary steps: 1 kB = 1024)."""
    size, unit = float(value), 0
    while abs(size) >= 1024 and unit < len(_BYTE_UNITS) - 1:
        size, unit = size / 1024, unit + 1
    shown = round(size, 1) if unit else int(size)
    length = "short" if unit else "long"  # "512 bytes", not "512 byte"
    text = units.format_unit(shown, _BYTE_UNITS[unit], length=length, locale=_babel_locale())
    return _digits(text, number=True)


def format_percent(value: int | float) -> str:
    """A percentage already in 0-100 (not a ratio), one decimal at most."""
    text = units.format_unit(round(value, 1), "percent", length="short", locale=_babel_locale())
    return _digits(text, number=True)


def localize_digits(text: object) -> str:
    return _digits(str(text))


FILTERS = {
    "number": format_number,
    "money": format_money,
    "datetime": format_datetime,
    "date": format_date,
    "timedelta": format_timedelta,
    "bytes": format_bytes,
    "percent": format_percent,
    "digits": localize_digits,
}


def localized(obj: object, field: str) -> str:
    """``obj.<field>_<locale>`` (e.g. ``name_ar``), falling back to English when empty."""
    value = getattr(obj, f"{field}_{current_locale()}", "") or getattr(obj, f"{field}_en", "")
    return str(value or "")
