"""Sites on the PostgreSQL backend of the ops scripts, against a real trytond and cluster.

One throw-away root per module, bootstrapped with `--db-uri postgresql://USER@HOST:PORT/`
(the cluster of MANAGELY_TEST_POSTGRES_URL, default postgres@127.0.0.1:5432, trust auth) and
this interpreter (trytond, psycopg), trytond on a fixed port, and the template of the package
"starter" built with the party module only (a short build). Its databases all start with the
root's own prefix (DIR/etc/database): the module checks at the end that none is left on the
cluster, and drops any that a failure left behind. Under CI=true an unreachable PostgreSQL is
a failure; elsewhere the module is skipped with the reason.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import signal
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.ops.tryton_host")

from tests.ops.tryton_host import Run, run  # noqa: E402
from tests.support import fixed_port  # noqa: E402

CI = os.environ.get("CI") == "true"
PACKAGE = "starter"
MODULES = "party"
PASSWORDS = {"alpha": "Alpha-secret-pg-1", "beta": "Beta-secret-pg-2"}


def _cluster() -> tuple[str, str]:
    """(--db-uri for the scripts, conninfo of the maintenance database) from the test URL."""
    url = urllib.parse.urlsplit(
        os.environ.get("MANAGELY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    user = f"{url.username}@" if url.username else ""
    netloc = f"{user}{url.hostname or '127.0.0.1'}:{url.port or 5432}"
    return f"postgresql://{netloc}/", f"postgresql://{netloc}/postgres"


DB_URI, ADMIN_CONNINFO = _cluster()


def _unavailable() -> str | None:
    missing = [
        name
        for name in ("trytond", "trytond.modules.party", "psycopg", "psycopg_pool")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        return f"{', '.join(missing)} not installed here (pip install -e '.[tryton]')"
    import psycopg

    try:
        psycopg.connect(ADMIN_CONNINFO, connect_timeout=5).close()
    except psycopg.Error as error:
        return f"PostgreSQL at {DB_URI}: {' '.join(str(error).split())}"
    return None


@pytest.fixture(scope="module")
def available() -> None:
    reason = _unavailable()
    if reason:
        if CI:
            pytest.fail(f"CI=true requires PostgreSQL for the ops scripts: {reason}")
        pytest.skip(reason)


def databases(prefix: str) -> dict[str, tuple[bool, bool]]:
    """The cluster's databases named <prefix>…: name -> (is template, allows connections)."""
    import psycopg

    with psycopg.connect(ADMIN_CONNINFO, connect_timeout=5) as connection:
        rows = connection.execute(
            "SELECT datname, datistemplate, datallowconn FROM pg_database "
            "WHERE left(datname, %s) = %s",
            (len(prefix), prefix),
        ).fetchall()
    return {name: (template, allow) for name, template, allow in rows}


def drop_databases(prefix: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_CONNINFO, autocommit=True, connect_timeout=5) as connection:
        for name in databases(prefix):
            assert name.startswith(prefix) and '"' not in name
            connection.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE false')
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class PgRoot:
    root: Path
    port: int
    prefix: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def args(self, *args: str) -> list[str]:
        return ["--root", str(self.root), *args]

    def db(self, site: str) -> str:
        return self.prefix + site

    def url(self, site: str) -> str:
        return f"http://127.0.0.1:{self.port}/{self.db(site)}/"


def timed(pg: PgRoot, what: str, script: str, *args: str, **kwargs) -> Run:
    started = time.monotonic()
    out = run(script, *args, **kwargs)
    pg.timings[what] = round(time.monotonic() - started, 2)
    print(f"[pg timing] {what}: {pg.timings[what]} s")
    return out


@pytest.fixture(scope="module")
def pg(available, tmp_path_factory) -> Iterator[PgRoot]:
    """A bootstrapped PostgreSQL root with the template built; trytond stopped and the root's
    databases dropped afterwards, whatever happened."""
    pg = PgRoot(root=tmp_path_factory.mktemp("pg-ops") / "root", port=fixed_port())
    try:
        boot = timed(
            pg, "bootstrap", "bootstrap_server.sh",
            *pg.args("--port", str(pg.port), "--python", sys.executable, "--modules", MODULES,
                     "--db-uri", DB_URI, "--no-systemd"),
        )  # fmt: skip
        assert boot.ok, boot.text
        record = (pg.root / "etc" / "database").read_text().splitlines()
        pg.prefix = dict(line.split("=", 1) for line in record)["prefix"]
        tpl = timed(
            pg, "template build", "build_template.sh",
            *pg.args("--package", PACKAGE, "--modules", MODULES), timeout=600,
        )  # fmt: skip
        assert tpl.ok, tpl.text
        yield pg
    finally:
        run("stop_service.sh", *pg.args())
        pid_file = pg.root / "run" / "trytond.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        if pg.prefix:
            drop_databases(pg.prefix)


def create(pg: PgRoot, site: str, password: str, *extra: str, what: str = "create") -> Run:
    return timed(
        pg, f"{what} {site}", "create_site_in_isolated.sh",
        *pg.args("--site", site, "--package", PACKAGE, *extra),
        secrets={"ADMIN_PASSWORD": password},
    )  # fmt: skip


@pytest.fixture(scope="module")
def sites(pg: PgRoot) -> dict[str, Run]:
    made = {site: create(pg, site, password) for site, password in PASSWORDS.items()}
    for out in made.values():
        assert out.ok, out.text
    return made


# --- JSON-RPC, independently of ops/scripts/tryton_rpc.py -------------------------------------


def call(url: str, method: str, params: list, session: str | None = None) -> tuple[int, object]:
    """One JSON-RPC call on a site url (as the `url` result gives it): (status, result)."""
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


def login(url: str, user: str, password: str) -> tuple[int, object]:
    return call(url, "common.db.login", [user, {"password": password}, "en"])


def session_for(url: str, user: str, password: str) -> str:
    status, result = login(url, user, password)
    assert status == 200 and isinstance(result, list) and result[0] > 0, (status, result)
    return base64.b64encode(f"{user}:{result[0]}:{result[1]}".encode()).decode()


def assert_login_ok(url: str, user: str, password: str) -> None:
    status, result = login(url, user, password)
    assert status == 200, (status, result)
    assert isinstance(result, list) and result[0] > 0 and len(result[1]) >= 32, result


# --- the tests (in this order: the last one deletes the sites) --------------------------------


def test_bootstrap_records_the_backend_and_builds_a_template_database(pg):
    record = (pg.root / "etc" / "database").read_text()
    assert record == f"backend=postgresql\nuri={DB_URI}\nprefix={pg.prefix}\n"
    assert pg.prefix.startswith("m") and pg.prefix.endswith("_") and len(pg.prefix) == 10
    conf = (pg.root / "etc" / "trytond.conf").read_text()
    assert f"uri = {DB_URI}\n" in conf and f"db_prefix = {pg.prefix}\n" in conf
    assert "sqlite" not in conf
    # The template: a template database nothing can connect to, and nothing else.
    assert databases(pg.prefix) == {f"{pg.prefix}tpl_{PACKAGE}": (True, False)}
    again = run("build_template.sh", *pg.args("--package", PACKAGE, "--modules", MODULES))
    assert again.ok and "up to date" in again.stdout, again.text
    assert again.results == {"template": f"{pg.prefix}tpl_{PACKAGE}", "modules": MODULES}
    # Bootstrapping again without --db-uri keeps the backend and the running trytond.
    pid = (pg.root / "run" / "trytond.pid").read_text()
    boot = run(
        "bootstrap_server.sh",
        *pg.args("--port", str(pg.port), "--python", sys.executable, "--no-systemd"),
    )
    assert boot.ok and "already running" in boot.stdout, boot.text
    assert (pg.root / "run" / "trytond.pid").read_text() == pid
    assert (pg.root / "etc" / "database").read_text() == record


def test_two_sites_log_in_with_their_own_passwords(pg, sites):
    for site, out in sites.items():
        assert out.results == {
            "db_name": pg.db(site),
            "url": pg.url(site),
            "admin_login": "admin",
        }, out.text
        assert PASSWORDS[site] not in out.text
        assert_login_ok(out.results["url"], "admin", PASSWORDS[site])
    # The passwords do not cross.
    assert login(pg.url("alpha"), "admin", PASSWORDS["beta"])[0] == 401
    assert login(pg.url("beta"), "admin", PASSWORDS["alpha"])[0] == 401
    names = databases(pg.prefix)
    assert {pg.db("alpha"), pg.db("beta")} <= set(names)
    assert not [n for n in names if n.startswith(f"{pg.prefix}new_")], names

    # Idempotent: the database is kept and the login checked again.
    again = create(pg, "alpha", PASSWORDS["alpha"], what="create again")
    assert again.ok and "kept" in again.stdout, again.text
    assert again.results == sites["alpha"].results


def test_sites_are_isolated(pg, sites):
    alpha = session_for(pg.url("alpha"), "admin", PASSWORDS["alpha"])
    beta = session_for(pg.url("beta"), "admin", PASSWORDS["beta"])
    status, ids = call(
        pg.url("alpha"), "model.party.party.create", [[{"name": "Only in alpha"}], {}], alpha
    )
    assert status == 200 and isinstance(ids, list) and len(ids) == 1, ids
    domain = [[["name", "=", "Only in alpha"]], 0, None, None, {}]
    assert call(pg.url("alpha"), "model.party.party.search", domain, alpha) == (200, ids)
    assert call(pg.url("beta"), "model.party.party.search", domain, beta) == (200, [])
    # A session of one site is nothing on the other.
    assert call(pg.url("beta"), "model.party.party.search", domain, alpha)[0] == 401


def test_trytond_opens_only_this_roots_site_databases(pg, sites):
    # Not the template, not a pending clone's name, not another database of the cluster: a
    # login there is a database trytond does not know (and it opens no connection to it).
    for name in (f"{pg.prefix}tpl_{PACKAGE}", f"{pg.prefix}new_gamma", "template1"):
        status, _ = login(f"http://127.0.0.1:{pg.port}/{name}/", "admin", "x")
        assert status == 404, name
    assert login(f"http://127.0.0.1:{pg.port}/{pg.prefix}no-such-site/", "admin", "x")[0] == 404


def test_change_password(pg, sites):
    new = "Alpha-new-pass-pg-3"
    args = pg.args("--site", "alpha", "--login", "admin")
    out = run("change_password_by_console_managely.sh", *args, secrets={"NEW_PASSWORD": new})
    assert out.ok, out.text
    assert out.steps == ["check_site", "set_password", "verify_login"]
    assert new not in out.text
    assert login(pg.url("alpha"), "admin", PASSWORDS["alpha"])[0] == 401
    assert_login_ok(pg.url("alpha"), "admin", new)
    assert_login_ok(pg.url("beta"), "admin", PASSWORDS["beta"])
    PASSWORDS["alpha"] = new

    unknown = run(
        "change_password_by_console_managely.sh",
        *pg.args("--site", "alpha", "--login", "nobody"),
        secrets={"NEW_PASSWORD": new},
    )
    assert unknown.returncode == 1 and "no user with login nobody" in unknown.errors[0]


def test_backup_and_restore(pg, sites):
    backup = timed(pg, "backup", "backup_site.sh", *pg.args("--site", "alpha"))
    assert backup.ok, backup.text
    assert set(backup.results) == {"path", "size_bytes", "sha256"}
    path = Path(backup.results["path"])
    assert path.parent == pg.root / "backups" / "alpha" and path.name.startswith("alpha-")
    assert int(backup.results["size_bytes"]) == path.stat().st_size
    with tarfile.open(path) as tar:
        assert {"database.dump", "site/site.env"} <= set(tar.getnames())

    # A change after the backup is undone by restoring it into the live site.
    changed = run(
        "change_password_by_console_managely.sh",
        *pg.args("--site", "alpha", "--login", "admin"),
        secrets={"NEW_PASSWORD": "Alpha-changed-pg-4"},
    )
    assert changed.ok, changed.text
    restore = timed(pg, "restore", "restore_latest_backup.sh", *pg.args("--site", "alpha"))
    assert restore.ok, restore.text
    assert restore.results == {"restored_from": str(path), "sha256": backup.results["sha256"]}
    assert_login_ok(pg.url("alpha"), "admin", PASSWORDS["alpha"])
    assert login(pg.url("alpha"), "admin", "Alpha-changed-pg-4")[0] == 401
    assert_login_ok(pg.url("beta"), "admin", PASSWORDS["beta"])

    # The drill: into a scratch database, then removed.
    drill = run("restore_latest_backup.sh", *pg.args("--site", "alpha", "--into", "alpha-drill"))
    assert drill.ok, drill.text
    assert "database check: ok" in drill.stdout
    assert pg.db("alpha-drill") in databases(pg.prefix)
    refused = run("restore_latest_backup.sh", *pg.args("--site", "alpha", "--into", "beta"))
    assert refused.returncode == 1 and "managed site" in refused.errors[0]
    back = run(
        "restore_latest_backup.sh", *pg.args("--site", "alpha", "--into", "alpha-drill"),
        "--rollback",
    )  # fmt: skip
    assert back.ok, back.text
    names = set(databases(pg.prefix))
    assert names == {f"{pg.prefix}tpl_{PACKAGE}", pg.db("alpha"), pg.db("beta")}, names


def test_restart_preloads_the_site_databases(pg, sites):
    stopped = run("stop_service.sh", *pg.args())
    assert stopped.ok and "stopped trytond" in stopped.stdout, stopped.text
    boot = run(
        "bootstrap_server.sh",
        *pg.args("--port", str(pg.port), "--python", sys.executable, "--no-systemd"),
    )
    assert boot.ok and "started trytond" in boot.stdout, boot.text
    pid = (pg.root / "run" / "trytond.pid").read_text().strip()
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[cmdline.index(b"-d") + 1 :] == [
        pg.db("alpha").encode(),
        pg.db("beta").encode(),
        b"",
    ]
    # Straight to common.db.login, no loading request first.
    assert_login_ok(pg.url("beta"), "admin", PASSWORDS["beta"])
    assert_login_ok(pg.url("alpha"), "admin", PASSWORDS["alpha"])


def test_rollback_removes_an_unfinished_site(pg, sites):
    import psycopg

    # Stopped before any database existed: nothing to remove.
    orphan = create(pg, "orphan", "Orphan-secret-pg-5", "--package", "nopackage")
    assert orphan.returncode == 1 and orphan.steps[-1] == "clone_database"
    assert "no template for package nopackage" in orphan.errors[0]
    # As if a creation had stopped before its password was set: a pending clone is left.
    pending = f"{pg.prefix}new_gamma"
    with psycopg.connect(ADMIN_CONNINFO, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE DATABASE "{pending}" TEMPLATE "{pg.prefix}tpl_{PACKAGE}"')
    (pg.root / "sites" / "gamma").mkdir(parents=True)
    (pg.root / "sites" / "gamma" / "package").write_text(f"{PACKAGE}\n")
    for site in ("orphan", "gamma"):
        back = run(
            "create_site_in_isolated.sh",
            *pg.args("--site", site, "--package", "nopackage" if site == "orphan" else PACKAGE),
            "--rollback",
        )
        assert back.ok and back.steps == ["rollback"], back.text
    assert not (pg.root / "sites" / "gamma").exists()
    assert set(databases(pg.prefix)) == {f"{pg.prefix}tpl_{PACKAGE}", pg.db("alpha"), pg.db("beta")}


def test_delete_leaves_nothing_on_the_cluster(pg, sites):
    out = run("delete_multiple_sites.sh", *pg.args("--site", "alpha", "--site", "beta"))
    assert out.ok and out.results == {"deleted": "2"}, out.text
    assert (
        not (pg.root / "sites" / "alpha").exists() and not (pg.root / "backups" / "alpha").exists()
    )
    # trytond keeps the deleted databases loaded: the names are not reusable before a restart.
    check = run("subdomain_check.sh", *pg.args("--site", "alpha"))
    assert check.results == {"available": "no"}
    assert set(databases(pg.prefix)) == {f"{pg.prefix}tpl_{PACKAGE}"}
    dropped = run("build_template.sh", *pg.args("--package", PACKAGE, "--rollback"))
    assert dropped.ok, dropped.text
    assert databases(pg.prefix) == {}
    twice = run("delete_multiple_sites.sh", *pg.args("--site", "alpha"))
    assert twice.ok and twice.results == {"deleted": "0"}
    print(f"[pg timing] all: {pg.timings}")
