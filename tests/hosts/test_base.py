"""The script protocol, argument checks, redaction and line splitting shared by all drivers."""

from __future__ import annotations

from pathlib import Path

import pytest

from managely.hosts.base import (
    LineSplitter,
    Redactor,
    ScriptEvent,
    UnknownScript,
    UnsafeArgument,
    parse_line,
    secrets_input,
    validate_args,
    validate_script,
)
from tests.hosts.support import SCRIPTS

HOSTILE_ARGS = [
    ";",
    "a;b",
    "$(id)",
    "`id`",
    "a\nb",
    "a b",
    "a\tb",
    "a\x00b",
    "..",
    "../etc/passwd",
    "sites/../../etc",
    "--root=../x",
    "",
    "x" * 256,
    "\u0435xample",  # Cyrillic е, looks like "example"
    "caf\u00e9",
    "a|b",
    "a&b",
    ">out",
    "*",
    "~root",
    "'quoted'",
    '"quoted"',
    "back\\slash",
    "a%b",
]
SAFE_ARGS = ["acme", "shop.example.com", "--root=/srv/managely", "8.2.1", "a,b", "user@host", "+1"]


@pytest.mark.parametrize(
    ("line", "event"),
    [
        ("::step create_database", ScriptEvent("step", "create_database")),
        ("::progress 40", ScriptEvent("progress", "40")),
        ("::progress 100", ScriptEvent("progress", "100")),
        ("::result url=http://x.test/a?b=c", ScriptEvent("result", "http://x.test/a?b=c", "url")),
        ("::result empty=", ScriptEvent("result", "", "empty")),
        ("::error disk is full", ScriptEvent("error", "disk is full")),
        ("plain output", ScriptEvent("log", "plain output")),
        ("::progress 101", ScriptEvent("log", "::progress 101")),
        ("::progress half", ScriptEvent("log", "::progress half")),
        ("::progress \u0664\u0660", ScriptEvent("log", "::progress \u0664\u0660")),
        ("::result no_equals_sign", ScriptEvent("log", "::result no_equals_sign")),
        ("::step", ScriptEvent("log", "::step")),
        ("::unknown thing", ScriptEvent("log", "::unknown thing")),
        ("  ::step indented", ScriptEvent("log", "  ::step indented")),
    ],
)
def test_it_parses_protocol_lines(line: str, event: ScriptEvent) -> None:
    assert parse_line(line) == event


def test_progress_events_carry_a_percentage() -> None:
    assert parse_line("::progress 7").percent == 7
    assert parse_line("hello").percent is None


@pytest.mark.parametrize("arg", HOSTILE_ARGS)
def test_it_rejects_hostile_arguments(arg: str) -> None:
    with pytest.raises(UnsafeArgument):
        validate_args(["ok", arg])


@pytest.mark.parametrize("args", [[5], [b"bytes"], [Path("/tmp")], [None], "single-string"])
def test_it_rejects_arguments_that_are_not_a_list_of_strings(args: object) -> None:
    with pytest.raises(UnsafeArgument):
        validate_args(args)  # type: ignore[arg-type]


def test_it_accepts_plain_arguments() -> None:
    validate_args(SAFE_ARGS + ["x" * 255])


@pytest.mark.parametrize("name", ["../progress.sh", "Progress.sh", "progress", "prog ress.sh", ""])
def test_it_rejects_odd_script_names(name: str) -> None:
    with pytest.raises(UnsafeArgument):
        validate_script(name, SCRIPTS)


def test_it_rejects_scripts_that_do_not_exist() -> None:
    with pytest.raises(UnknownScript):
        validate_script("missing.sh", SCRIPTS)
    assert validate_script("progress.sh", SCRIPTS) == SCRIPTS / "progress.sh"


def test_secrets_become_stdin_lines() -> None:
    assert secrets_input({"DB_PASSWORD": "a=b c", "TOKEN": "t"}) == b"DB_PASSWORD=a=b c\nTOKEN=t\n"


@pytest.mark.parametrize(
    "secrets", [{"DB_PASSWORD": "a\nTOKEN=x"}, {"db_password": "x"}, {"A B": "x"}, {"X": 5}]
)
def test_it_rejects_secrets_that_could_forge_lines(secrets: dict) -> None:
    with pytest.raises(UnsafeArgument):
        secrets_input(secrets)


def test_it_redacts_every_occurrence_of_each_secret() -> None:
    redact = Redactor({"A": "hunter22", "B": "hunter22-long", "C": "abc"})
    assert redact("hunter22 and hunter22-long, hunter22") == (
        "[redacted] and [redacted], [redacted]"
    )
    assert redact("abc is too short to redact") == "abc is too short to redact"
    assert Redactor([])("nothing to hide") == "nothing to hide"


def test_a_cut_line_loses_a_secret_beginning_at_the_cut() -> None:
    assert Redactor(["hunter22"]).cut("password is hunt") == "password is "


def test_it_splits_chunks_into_lines() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntw") == [("one", False)]
    assert splitter.feed(b"o\r\nthree") == [("two", False)]
    assert splitter.feed("\u00e9\n".encode()) == [("three\u00e9", False)]
    assert splitter.feed(b"last") == []
    assert splitter.finish() == [("last", False)]


def test_it_cuts_overlong_lines_and_skips_their_rest() -> None:
    splitter = LineSplitter(max_line=10)
    assert splitter.feed(b"a" * 8) == []
    assert splitter.feed(b"b" * 8) == [("aaaaaaaabb", True)]
    assert splitter.feed(b"c" * 50) == []
    assert splitter.feed(b"c\nnext\n" + b"d" * 20 + b"\n") == [
        ("next", False),
        ("dddddddddd", True),
    ]
    assert splitter.finish() == []


def test_it_replaces_undecodable_bytes() -> None:
    assert LineSplitter().feed(b"bad \xff byte\n") == [("bad \ufffd byte", False)]


def test_it_builds_drivers_by_kind(tmp_path: Path) -> None:
    from managely.hosts import driver_for
    from managely.hosts.local import LocalDriver

    driver = driver_for("local", scripts_dir=tmp_path, max_concurrency=2)
    assert isinstance(driver, LocalDriver)
    assert (driver.scripts_dir, driver.max_concurrency) == (tmp_path, 2)
    with pytest.raises(ValueError, match="unknown host driver"):
        driver_for("telnet")
