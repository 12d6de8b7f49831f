"""The one translation tool: extract, update, compile and check the catalogs.

``check`` fails when ``messages.pot`` no longer matches the source (someone added a string
without running ``make i18n``) or when the Arabic catalog leaves any string untranslated.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from managely.i18n import LOCALES, LOCALES_DIR

ROOT = LOCALES_DIR.parent
POT = LOCALES_DIR / "messages.pot"
CFG = LOCALES_DIR / "babel.cfg"
KEYWORDS = ["_", "_l", "gettext", "lazy_gettext", "ngettext:1,2", "stored"]


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract(target: Path = POT) -> None:
    keywords = [arg for k in KEYWORDS for arg in ("-k", k)]
    _pybabel(
        "extract",
        "-F",
        str(CFG),
        "-o",
        str(target),
        "--no-location",
        "--sort-output",
        "--omit-header",
        "--no-wrap",
        "--project",
        "managely",
        *keywords,
        str(ROOT),
    )


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"


def update() -> None:
    for locale in LOCALES:
        command = "update" if po_path(locale).exists() else "init"
        extra = ["--no-wrap", "--ignore-obsolete"] if command == "update" else []
        _pybabel(command, "-i", str(POT), "-d", str(LOCALES_DIR), "-l", locale, *extra)


def compile_catalogs() -> None:
    for locale in LOCALES:
        po = po_path(locale)
        if not po.exists():
            continue
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        with po.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)


def _ids(path: Path, locale: str | None = None) -> dict:
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    return {message.id: message for message in catalog if message.id}


def check() -> list[str]:
    """Problems with the catalogs; an empty list means they are complete and current."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "messages.pot"
        extract(fresh)
        current, committed = set(_ids(fresh)), set(_ids(POT)) if POT.exists() else set()
    if current != committed:
        problems.append(
            f"messages.pot is stale: {len(current - committed)} new, "
            f"{len(committed - current)} gone; run `make i18n`"
        )
    arabic = _ids(po_path("ar"), "ar") if po_path("ar").exists() else {}
    for msgid in sorted(current, key=str):
        message = arabic.get(msgid)
        strings = message.string if message else ""
        values = strings if isinstance(strings, tuple) else (strings,)
        if message is None or not all(values) or message.fuzzy:
            problems.append(f"ar: untranslated: {msgid!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    command = (argv or sys.argv[1:] or ["all"])[0]
    if command in ("extract", "all"):
        extract()
    if command in ("update", "all"):
        update()
    if command in ("compile", "all"):
        compile_catalogs()
    if command == "check":
        problems = check()
        for problem in problems[:50]:
            print(problem)
        if problems:
            print(f"{len(problems)} problem(s) with the translation catalogs")
            return 1
        print("translations: pot current, Arabic complete")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
