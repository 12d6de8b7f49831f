"""Locale choice, Babel formatting in the request locale, and complete catalogs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from managely import i18n, translations


def test_the_catalogs_are_current_and_arabic_is_complete():
    assert translations.check() == []


@pytest.mark.parametrize(
    ("user", "cookie", "accept", "expected"),
    [
        ("ar", "en", "en-US", "ar"),
        (None, "ar", "en-US,en;q=0.9", "ar"),
        (None, None, "ar-SA,ar;q=0.9,en;q=0.8", "ar"),
        (None, None, "fr-FR,fr;q=0.9", "en"),
        (None, "xx", "", "en"),
    ],
)
def test_locale_choice_order(user, cookie, accept, expected):
    assert i18n.select_locale(user, cookie, accept) == expected


def test_money_is_formatted_from_minor_units_per_locale():
    with i18n.use_locale("en"):
        assert i18n.format_money(123456, "USD") == "$1,234.56"
        assert i18n.format_money(1000, "JPY") == "¥1,000"
    with i18n.use_locale("ar"):
        assert i18n.format_money(123456, "SAR") == "\u200f1,234.56\xa0ر.س.\u200f"
    with i18n.use_locale("ar", arabic_digits=True):
        assert i18n.format_money(123456, "SAR") == "\u200f١٬٢٣٤٫٥٦\xa0ر.س.\u200f"
        assert i18n.format_money(100000, "USD") == "\u200f١٬٠٠٠٫٠٠\xa0US$"


def test_arabic_indic_digits_are_an_option():
    moment = datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
    with i18n.use_locale("ar", arabic_digits=True):
        assert i18n.format_number(1234) == "١٬٢٣٤"
        assert "٢٠٢٦" in i18n.format_date(moment)
    with i18n.use_locale("ar"):
        assert "2026" in i18n.format_date(moment)
    with i18n.use_locale("en", arabic_digits=True):
        assert i18n.format_number(1234) == "1,234"


def test_lazy_strings_translate_where_they_are_shown():
    message = i18n.lazy_gettext("Wrong email or password.")
    with i18n.use_locale("en"):
        assert str(message) == "Wrong email or password."
    with i18n.use_locale("ar"):
        assert str(message) != "Wrong email or password."
        assert str(message)
