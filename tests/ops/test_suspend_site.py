"""suspend_site.sh against a real trytond, on a SQLite root and on a PostgreSQL root.

Each backend gets one throw-away root (trytond on a free port, template "starter") with two
sites; "acme" is suspended and resumed while "other" keeps working. A suspended site refuses
new sign-ins and the sessions it had, and gets back exactly the users that were active.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import pytest

pytest.register_assert_rewrite("tests.ops.tryton_host")

from tests.ops import tryton_host  # noqa: E402
from tests.ops.tryton_host import SCRIPTS, free_port, has_trytond  # noqa: E402

CI = os.environ.get("CI") == "true"
STEPS = {"suspend_site.sh": ["check_site", "suspend", "resume", "verify"]}
PASSWORDS = {"acme": "Acme-suspend-41", "other": "Other-suspend-52"}
run = partial(tryton_host.run, steps=STEPS)


def _cluster() -> tuple[str, str]:
    url = urllib.parse.urlsplit(
        os.environ.get("MANAGELY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    user = f"{url.username}@" if url.username else ""
    netloc = f"{user}{url.hostname or '127.0.0.1'}:{url.port or 5432}"
    return f"postgresql://{netloc}/", f"postgresql://{netloc}/postgres"


DB_URI, ADMIN_CONNINFO = _cluster()


def _pg_unavailable() -> str | None:
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed here"
    import psycopg

    try:
        psycopg.connect(ADMIN_CONNINFO, connect_timeout=5).close()
    except psycopg.Error as error:
        return f"PostgreSQL at {DB_URI}: {' '.join(str(error).split())}"
    return None


@dataclass
class Root:
    backend: str
    root: str
    port: int
    prefix: str = ""

    def args(self, *extra: str) -> list[str]:
        return ["--root", self.root, *extra]

    def url(self, site: str) -> str:
        return f"http://127.0.0.1:{self.port}/{self.prefix}{site}/"

    def sql(self, site: str, query: str, params: tuple = ()) -> list[tuple]:
        """A statement on the site's database, committed."""
        if self.backend == "pg":
            import psycopg

            with psycopg.connect(DB_URI + self.prefix + site, autocommit=True) as connection:
                cursor = connection.execute(query.replace("?", "%s"), params)
                return cursor.fetchall() if cursor.description else []
        connection = sqlite3.connect(f"{self.root}/db/{site}.sqlite", isolation_level=None)
        try:
            return connection.execute(query, params).fetchall()
        finally:
            connection.close()


def _drop_databases(prefix: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_CONNINFO, autocommit=True) as connection:
        names = connection.execute(
            "SELECT datname FROM pg_database WHERE left(datname, %s) = %s", (len(prefix), prefix)
        ).fetchall()
        for (name,) in names:
            assert name.startswith(prefix) and '"' not in name
            connection.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE false')
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", "pg"], ids=["sqlite-root", "postgresql-root"])
def root(request, tmp_path_factory) -> Iterator[Root]:
    if not has_trytond():
        pytest.skip("trytond with the sale module is not installed here")
    extra, modules = [], "sale"
    if request.param == "pg":
        reason = _pg_unavailable()
        if reason:
            if CI:
                pytest.fail(f"CI=true requires PostgreSQL for the ops scripts: {reason}")
            pytest.skip(reason)
        extra, modules = ["--db-uri", DB_URI], "party"
    path = tmp_path_factory.mktemp(f"suspend-{request.param}") / "root"
    current = Root(request.param, str(path), free_port())
    try:
        boot = run(
            "bootstrap_server.sh",
            *current.args("--port", str(current.port), "--python", sys.executable,
                          "--modules", modules, "--no-systemd", *extra),
        )  # fmt: skip
        assert boot.ok, boot.text
        if request.param == "pg":
            record = (path / "etc" / "database").read_text().splitlines()
            current.prefix = dict(line.split("=", 1) for line in record)["prefix"]
        built = run(
            "build_template.sh",
            *current.args("--package", tryton_host.PACKAGE, "--modules", modules),
            timeout=600,
        )
        assert built.ok, built.text
        for site, password in PASSWORDS.items():
            made = run(
                "create_site_in_isolated.sh",
                *current.args("--site", site, "--package", tryton_host.PACKAGE),
                secrets={"ADMIN_PASSWORD": password},
            )
            assert made.ok, made.text
        yield current
    finally:
        run("stop_service.sh", *current.args())
        pid_file = path / "run" / "trytond.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        if current.prefix:
            _drop_databases(current.prefix)


def call(url: str, method: str, params: list, session: str | None = None) -> tuple[int, object]:
    headers = {"Content-Type": "application/json"}
    if session:
        headers["Authorization"] = f"Session {session}"
    request = urllib.request.Request(  # noqa: S310 (the site's http URL on loopback)
        url + "rpc/",
        data=json.dumps({"id": 1, "method": method, "params": params}).encode(),
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            answer = json.loads(response.read())
            return response.status, answer.get("result", answer.get("error"))
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, None


def login(root: Root, site: str) -> tuple[int, object]:
    return call(root.url(site), "common.db.login", ["admin", {"password": PASSWORDS[site]}, "en"])


def session(root: Root, site: str) -> str:
    status, result = login(root, site)
    assert status == 200 and isinstance(result, list) and result[0] > 0, (status, result)
    return base64.b64encode(f"admin:{result[0]}:{result[1]}".encode()).decode()


def preferences(root: Root, site: str, key: str) -> int:
    return call(root.url(site), "model.res.user.get_preferences", [True, {}], key)[0]


def suspend(root: Root, *extra: str):
    return run("suspend_site.sh", *root.args("--site", "acme", *extra))


def active_users(root: Root) -> set[int]:
    return {row[0] for row in root.sql("acme", "SELECT id FROM res_user WHERE active AND id > 0")}


@pytest.mark.parametrize("script", sorted(STEPS))
def test_help_lists_the_steps(script):
    out = run(script, "--help")
    assert out.returncode == 0 and "Usage:" in out.stdout and "--resume" in out.stdout
    for name in STEPS[script]:
        assert name in out.stdout


def test_shellcheck_clean():
    shellcheck = subprocess.run(["which", "shellcheck"], capture_output=True, text=True).stdout
    if not shellcheck.strip():
        if CI:
            pytest.fail("shellcheck is required under CI=true")
        pytest.skip("shellcheck is not installed")
    proc = subprocess.run(
        [shellcheck.strip(), "-S", "style", "-x", "suspend_site.sh"],
        capture_output=True,
        text=True,
        cwd=SCRIPTS,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_it_refuses_bad_names_and_unknown_sites(tmp_path):
    bad = run("suspend_site.sh", "--root", str(tmp_path), "--site", "acme;id")
    assert bad.returncode != 0 and bad.errors == ["invalid site: 'acme?id' (7 characters)"]


def test_a_suspended_site_refuses_sign_ins_and_resumes_as_it_was(root):
    key = session(root, "acme")
    assert preferences(root, "acme", key) == 200
    before = active_users(root)
    root.sql("acme", "INSERT INTO res_user_application (key, user, application, state) "
             "VALUES (?, ?, 'timesheet', 'validated')"
             if root.backend == "sqlite" else
             'INSERT INTO res_user_application (key, "user", application, state) '
             "VALUES (?, ?, 'timesheet', 'validated')", ("k" * 32, min(before)))  # fmt: skip

    out = suspend(root)
    assert out.ok, out.text
    assert out.steps == ["check_site", "suspend", "verify"]
    assert out.results == {"suspended": "1", "users": str(len(before))}
    assert login(root, "acme")[0] in (401, 403)
    assert preferences(root, "acme", key) in (401, 403)  # the open session ended
    assert active_users(root) == set()
    assert root.sql("acme", "SELECT state FROM res_user_application") == [("cancelled",)]
    # Another site on the same trytond is untouched.
    assert login(root, "other")[0] == 200

    again = suspend(root)
    assert again.ok and again.results == out.results, again.text

    resumed = suspend(root, "--resume")
    assert resumed.ok, resumed.text
    assert resumed.steps == ["check_site", "resume", "verify"]
    assert resumed.results == {"suspended": "0", "users": str(len(before))}
    assert active_users(root) == before
    assert root.sql("acme", "SELECT state FROM res_user_application") == [("validated",)]
    assert login(root, "acme")[0] == 200

    twice = suspend(root, "--resume")
    assert twice.ok and twice.results == {"suspended": "0", "users": "0"}, twice.text
    assert active_users(root) == before


def test_a_user_the_customer_had_disabled_stays_disabled(root):
    for login_name, active in (("clerk", True), ("former", False)):
        root.sql(
            "acme",
            "INSERT INTO res_user (login, name, active, administrator, menu) "
            "SELECT ?, ?, ?, FALSE, menu FROM res_user WHERE login = 'admin'",
            (login_name, login_name.title(), active),
        )
    (former,) = root.sql("acme", "SELECT id FROM res_user WHERE login = 'former'")[0]
    before = active_users(root)
    assert len(before) == 2 and former not in before
    assert suspend(root).ok and active_users(root) == set()
    assert suspend(root, "--resume").ok
    assert active_users(root) == before


def test_rollback_undoes_the_invocation(root):
    before = active_users(root)
    undo = suspend(root, "--rollback")  # a failed suspension is rolled back: a resume
    assert undo.ok and undo.results["suspended"] == "0", undo.text
    assert suspend(root).ok
    undo_resume = suspend(root, "--resume", "--rollback")  # a failed resume: suspended again
    assert undo_resume.ok and undo_resume.results["suspended"] == "1", undo_resume.text
    assert login(root, "acme")[0] in (401, 403)
    assert suspend(root, "--rollback").ok
    assert active_users(root) == before and login(root, "acme")[0] == 200


def test_a_missing_site_is_a_readable_error(root):
    out = run("suspend_site.sh", *root.args("--site", "nosuch"))
    assert out.returncode == 1 and out.errors == ["site nosuch has no database"], out.text
