"""The shell scripts that run on tenant servers (ops/scripts), against a real trytond.

One throw-away Managely root per session: bootstrapped with this interpreter (which has
trytond and the sale modules, so nothing is downloaded), one trytond process on a free port
below 32768, and one template for the package "starter" (modules: sale), built once (~15-25 s).
Logins are checked with urllib JSON-RPC, independently of ops/scripts/tryton_rpc.py; the root, the
script runner and the login checks are shared with test_more_scripts.py (tryton_host.py).
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.ops.tryton_host")

from tests.ops import tryton_host  # noqa: E402
from tests.ops.tryton_host import (  # noqa: E402
    PACKAGE,
    PYTHON,
    SCRIPTS,
    Run,
    Server,
    assert_login_ok,
    bootstrapped_root,
    free_port,
    has_trytond,
    rpc_login,
)

# The steps each script declares in --help (and is allowed to print).
STEPS = {
    "bootstrap_server.sh": [
        "prepare_dirs",
        "install_trytond",
        "write_config",
        "start_service",
        "check_service",
        "stop_service",
    ],
    "build_template.sh": ["check_template", "create_template"],
    "create_site_in_isolated.sh": [
        "check_site",
        "clone_database",
        "set_admin_password",
        "write_site",
        "load_site",
        "verify_login",
        "rollback",
    ],
    "change_password_by_console_managely.sh": ["check_site", "set_password", "verify_login"],
    "subdomain_check.sh": [],
    "delete_multiple_sites.sh": ["check_sites", "delete_sites"],
    "system_health_check.sh": ["collect"],
    "stop_service.sh": ["stop_service"],
    "backup_cleanup.sh": ["cleanup_backups"],
    "logs_archiving.sh": ["archive_logs", "prune_archives"],
    "resource_usage_monitor.sh": ["measure"],
}


pytestmark = pytest.mark.skipif(
    not has_trytond(), reason="trytond with the sale module is not installed here"
)


# Each script may print only the steps it declares.
run = partial(tryton_host.run, steps=STEPS)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    yield from bootstrapped_root(tmp_path_factory, "ops-root", steps=STEPS)


def create(server: Server, site: str, password: str, *extra: str, package=PACKAGE) -> Run:
    return run(
        "create_site_in_isolated.sh",
        "--root", str(server.root), "--site", site, "--package", package, *extra,
        secrets={"ADMIN_PASSWORD": password},
    )  # fmt: skip


# --- every script ---------------------------------------------------------------------------


@pytest.mark.parametrize("script", sorted(STEPS))
def test_help_exits_0_and_lists_the_steps(script):
    out = run(script, "--help")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Usage:" in out.stdout and "--root" in out.stdout
    for step in STEPS[script]:
        assert step in out.stdout, f"{script} --help does not declare {step}"


def test_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.environ.get("CI") == "true":
            pytest.fail("shellcheck is required under CI=true")
        pytest.skip("shellcheck is not installed")
    scripts = sorted(str(p) for p in SCRIPTS.glob("*.sh"))
    proc = subprocess.run(
        [shellcheck, "-S", "warning", "-x", *scripts],
        capture_output=True,
        text=True,
        cwd=SCRIPTS,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- server ---------------------------------------------------------------------------------


def test_bootstrap_again_keeps_the_running_trytond(server):
    pid = (server.root / "run" / "trytond.pid").read_text()
    out = run(
        "bootstrap_server.sh",
        "--root", str(server.root), "--port", str(server.port), "--python", PYTHON,
        "--modules", "sale", "--no-systemd",
    )  # fmt: skip
    assert out.ok, out.stdout
    assert "already running" in out.stdout
    assert (server.root / "run" / "trytond.pid").read_text() == pid
    assert out.results["port"] == str(server.port)
    assert out.results["tryton_version"].startswith("8.2")
    assert out.results["python"] == PYTHON
    conf = (server.root / "etc" / "trytond.conf").read_text()
    assert f"listen = 127.0.0.1:{server.port}" in conf
    assert f"path = {server.root}/db" in conf


def test_bootstrap_rejects_a_bad_port_or_python(server, tmp_path):
    for args in (["--port", "80"], ["--port", "40000"], ["--port", "8000;x"]):
        out = run("bootstrap_server.sh", "--root", str(tmp_path / "r"), *args)
        assert out.returncode == 1 and out.errors
    out = run(
        "bootstrap_server.sh",
        "--root", str(tmp_path / "r"), "--port", str(free_port()), "--python", "/bin/true",
    )  # fmt: skip
    assert out.returncode == 1 and "cannot import trytond" in out.errors[0]


def test_build_template_again_is_a_no_op(server):
    out = run(
        "build_template.sh",
        "--root", str(server.root), "--package", PACKAGE, "--modules", "sale",
    )  # fmt: skip
    assert out.ok, out.stdout
    assert "up to date" in out.stdout
    assert out.steps == ["check_template"]
    assert out.results["template"] == str(server.root / "templates" / f"{PACKAGE}.sqlite")


def test_build_template_with_an_unknown_module_fails_readably(server):
    out = run(
        "build_template.sh",
        "--root", str(server.root), "--package", "broken", "--modules", "no_such_module",
    )  # fmt: skip
    assert out.returncode == 1
    assert "no_such_module" in out.errors[0]
    assert not (server.root / "templates" / "broken.sqlite").exists()


def test_build_template_rollback_removes_only_that_template(server):
    templates = server.root / "templates"
    shutil.copy(templates / f"{PACKAGE}.sqlite", templates / "copy.sqlite")
    (templates / "copy.modules").write_text("sale\n")
    args = ["--root", str(server.root), "--package", "copy", "--modules", "sale"]
    assert "up to date" in run("build_template.sh", *args).stdout
    out = run("build_template.sh", *args, "--rollback")
    assert out.ok, out.stdout
    assert not (templates / "copy.sqlite").exists() and not (templates / "copy.modules").exists()
    assert (templates / f"{PACKAGE}.sqlite").exists()
    assert run("build_template.sh", *args, "--rollback").ok


def test_health_check_results(server):
    out = run("system_health_check.sh", "--root", str(server.root))
    assert out.ok, out.stdout
    assert float(out.results["load1"]) >= 0
    assert 0 < float(out.results["mem_used_pct"]) <= 100
    assert 0 <= int(out.results["disk_used_pct"]) <= 100
    assert out.results["trytond"] == "up"
    assert int(out.results["sites"]) == len(list((server.root / "db").glob("*.sqlite")))
    free = str(free_port())
    down = run("system_health_check.sh", "--root", str(server.root), "--port", free)
    assert down.ok and down.results["trytond"] == "down"


# --- sites ----------------------------------------------------------------------------------


def test_create_site_then_log_in(server):
    password = "Alpha-secret-9f2c"
    out = create(server, "alpha", password)
    assert out.ok, out.stdout + out.stderr
    assert out.steps == STEPS["create_site_in_isolated.sh"][:-1]
    assert out.results == {
        "db_name": "alpha",
        "url": f"http://127.0.0.1:{server.port}/alpha/",
        "admin_login": "admin",
    }
    assert password not in out.stdout and password not in out.stderr
    assert_login_ok(server, "alpha", "admin", password)
    assert rpc_login(server, "alpha", "admin", "not-the-password")[0] == 401
    env = (server.site_dir("alpha") / "site.env").read_text()
    assert "package=starter\n" in env and "admin_login=admin\n" in env and "state=ready" in env

    # Idempotent: again, same package, same password: the database is kept.
    inode = server.db("alpha").stat().st_ino
    again = create(server, "alpha", password)
    assert again.ok, again.stdout
    assert again.results == out.results
    assert server.db("alpha").stat().st_ino == inode
    assert "kept" in again.stdout
    assert_login_ok(server, "alpha", "admin", password)

    # The same name for another package is refused, and its rollback leaves the site alone.
    other = create(server, "alpha", password, package="other")
    assert other.returncode == 1 and "already exists for package starter" in other.errors[0]
    back = run(
        "create_site_in_isolated.sh",
        "--root", str(server.root), "--site", "alpha", "--package", "other", "--rollback",
    )  # fmt: skip
    assert back.ok
    # Nor does a rollback remove a site that finished creating.
    back = run(
        "create_site_in_isolated.sh",
        "--root", str(server.root), "--site", "alpha", "--package", PACKAGE, "--rollback",
    )  # fmt: skip
    assert back.ok and "left alone" in back.stdout
    assert server.db("alpha").exists()
    assert_login_ok(server, "alpha", "admin", password)


def test_create_site_with_another_admin_login(server):
    out = create(server, "beta", "Beta-secret-1", "--admin-login", "boss", "--host", "erp.local")
    assert out.ok, out.stdout
    assert out.results["url"] == f"http://erp.local:{server.port}/beta/"
    assert out.results["admin_login"] == "boss"
    assert_login_ok(server, "beta", "boss", "Beta-secret-1")
    assert rpc_login(server, "beta", "admin", "Beta-secret-1")[0] == 401


def test_setting_the_admin_password_reports_its_duration(server):
    # How long it takes is a bench figure (bench/provisioning.py), not a test assertion.
    out = create(server, "gamma", "Gamma-secret-2")
    assert out.ok, out.stdout
    line = next(x for x in out.stdout.splitlines() if x.startswith("admin password stored in"))
    assert line.split()[-1] == "ms" and int(line.split()[-2]) >= 0, line
    assert_login_ok(server, "gamma", "admin", "Gamma-secret-2")


def test_change_password(server):
    assert create(server, "delta", "Delta-old-pass").ok
    new = "Delta-new-pass-7"
    out = run(
        "change_password_by_console_managely.sh",
        "--root", str(server.root), "--site", "delta", "--login", "admin",
        secrets={"NEW_PASSWORD": new},
    )  # fmt: skip
    assert out.ok, out.stdout + out.stderr
    assert out.steps == STEPS["change_password_by_console_managely.sh"]
    assert new not in out.stdout and new not in out.stderr
    assert rpc_login(server, "delta", "admin", "Delta-old-pass")[0] == 401
    assert_login_ok(server, "delta", "admin", new)

    unknown = run(
        "change_password_by_console_managely.sh",
        "--root", str(server.root), "--site", "delta", "--login", "nobody",
        secrets={"NEW_PASSWORD": new},
    )  # fmt: skip
    assert unknown.returncode == 1 and "no user with login nobody" in unknown.errors[0]
    missing = run(
        "change_password_by_console_managely.sh",
        "--root", str(server.root), "--site", "no-such-site", "--login", "admin",
        secrets={"NEW_PASSWORD": new},
    )  # fmt: skip
    assert missing.returncode == 1 and "does not exist" in missing.errors[0]


def test_missing_secret_is_an_error(server):
    out = create(server, "epsilon", "")
    assert out.returncode == 1
    assert out.errors == ["missing secret ADMIN_PASSWORD on standard input"]
    assert not server.db("epsilon").exists() and not server.site_dir("epsilon").exists()


def test_subdomain_check(server):
    assert create(server, "zeta", "Zeta-secret-3").ok
    taken = run("subdomain_check.sh", "--root", str(server.root), "--site", "zeta")
    assert taken.ok and taken.results == {"available": "no"}
    free = run("subdomain_check.sh", "--root", str(server.root), "--site", "zeta-free")
    assert free.ok and free.results == {"available": "yes"}


BAD_NAMES = [
    "a;b",
    "x$(touch PWNED)",
    "x`touch PWNED`",
    "..",
    "../etc",
    "ab\ncd",
    "Acme",
    "a" * 64,
    "ab",
    "-ab",
    "ab-",
    "a_b",
    "a b",
    "",
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_bad_site_names_are_rejected(server, name):
    before = server.files()
    root = ["--root", str(server.root)]
    runs = [
        create(server, name, "Some-password-1"),
        run("subdomain_check.sh", *root, "--site", name),
        run("delete_multiple_sites.sh", *root, "--site", name),
        run(
            "change_password_by_console_managely.sh",
            *[*root, "--site", name, "--login", "admin"],
            secrets={"NEW_PASSWORD": "x"},
        ),
    ]
    for out in runs:
        assert out.returncode == 1, out.stdout
        assert len(out.errors) == 1, out.stdout
        assert out.errors[0].startswith(("invalid site", "--site is required")), out.errors
        assert "Some-password-1" not in out.stdout
        # The protocol stays one item per line, whatever the name held.
        assert all(line.startswith("::") for line in out.stdout.splitlines()), out.stdout
    assert server.files() == before
    assert not any(server.root.rglob("PWNED")) and not (Path.cwd() / "PWNED").exists()


def test_delete_leaves_sites_sharing_a_prefix(server):
    assert create(server, "acme", "Acme-secret-4").ok
    assert create(server, "acme-2", "Acme2-secret-5").ok
    (server.root / "backups" / "acme").mkdir(parents=True)
    (server.root / "backups" / "acme" / "b1.sqlite").write_text("x")
    (server.root / "backups" / "acme-2").mkdir(parents=True)
    (server.root / "backups" / "acme-2" / "b1.sqlite").write_text("x")

    out = run(
        "delete_multiple_sites.sh",
        "--root", str(server.root), "--site", "acme", "--site", "never-existed",
    )  # fmt: skip
    assert out.ok, out.stdout
    assert out.steps == STEPS["delete_multiple_sites.sh"]
    assert out.results == {"deleted": "1"}
    assert not server.db("acme").exists()
    assert not server.site_dir("acme").exists()
    assert not (server.root / "backups" / "acme").exists()
    assert not list((server.root / "db").glob("acme.sqlite*"))
    assert server.db("acme-2").exists()
    assert (server.site_dir("acme-2") / "site.env").exists()
    assert (server.root / "backups" / "acme-2" / "b1.sqlite").exists()
    assert_login_ok(server, "acme-2", "admin", "Acme2-secret-5")

    # trytond keeps the deleted database loaded: the name is not reusable until it restarts.
    check = run("subdomain_check.sh", "--root", str(server.root), "--site", "acme")
    assert check.results == {"available": "no"}
    again = create(server, "acme", "Acme-secret-4")
    assert again.returncode == 1 and "restart trytond" in again.errors[0]

    # Idempotent.
    twice = run("delete_multiple_sites.sh", "--root", str(server.root), "--site", "acme")
    assert twice.ok and twice.results == {"deleted": "0"}


def test_delete_validates_every_name_first(server):
    assert create(server, "theta", "Theta-secret-6").ok
    out = run(
        "delete_multiple_sites.sh",
        "--root", str(server.root), "--site", "theta", "--site", "bad;name",
    )  # fmt: skip
    assert out.returncode == 1 and out.errors[0].startswith("invalid site")
    assert server.db("theta").exists()


def test_rollback_after_a_failure_at_clone_database(server):
    before = server.files()
    out = create(server, "orphan", "Orphan-secret-7", package="nopackage")
    assert out.returncode == 1
    assert out.steps[-1] == "clone_database"
    assert "no template for package nopackage" in out.errors[0]
    back = run(
        "create_site_in_isolated.sh",
        "--root", str(server.root), "--site", "orphan", "--package", "nopackage", "--rollback",
    )  # fmt: skip
    assert back.ok, back.stdout
    assert back.steps == ["rollback"]
    assert server.files() == before
    assert not server.db("orphan").exists() and not server.site_dir("orphan").exists()


def test_rollback_removes_an_unfinished_site(server):
    assert create(server, "iota", "Iota-secret-8").ok
    # As if the creation had stopped before verify_login.
    env = server.site_dir("iota") / "site.env"
    env.write_text(env.read_text().replace("state=ready", "state=creating"))
    back = run(
        "create_site_in_isolated.sh",
        "--root", str(server.root), "--site", "iota", "--package", PACKAGE, "--rollback",
    )  # fmt: skip
    assert back.ok and "removed site iota" in back.stdout
    assert not list((server.root / "db").glob("iota.sqlite*"))
    assert not server.site_dir("iota").exists()
    # Twice is fine.
    assert run(
        "create_site_in_isolated.sh",
        "--root", str(server.root), "--site", "iota", "--package", PACKAGE, "--rollback",
    ).ok  # fmt: skip


# --- housekeeping (no trytond needed) -------------------------------------------------------


def _age(path: Path, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(path, (then, then))


def test_backup_cleanup(tmp_path):
    root = tmp_path / "root"
    site = root / "backups" / "kappa"
    other = root / "backups" / "kappa-2"
    site.mkdir(parents=True)
    other.mkdir(parents=True)
    for i in range(5):
        (site / f"b {i}.sqlite").write_text(str(i))
        _age(site / f"b {i}.sqlite", 10.5 - i)
    (other / "old.sqlite").write_text("x")
    _age(other / "old.sqlite", 100)

    out = run("backup_cleanup.sh", "--root", str(root), "--site", "kappa", "--keep", "3")
    assert out.ok, out.stdout
    assert out.results == {"removed": "2", "kept": "3"}
    assert sorted(p.name for p in site.iterdir()) == ["b 2.sqlite", "b 3.sqlite", "b 4.sqlite"]
    assert (other / "old.sqlite").exists()

    # Every site; by age; the newest backup of a site always stays.
    out = run("backup_cleanup.sh", "--root", str(root), "--max-age-days", "8")
    assert out.ok, out.stdout
    assert out.results == {"removed": "1", "kept": "3"}
    assert sorted(p.name for p in site.iterdir()) == ["b 3.sqlite", "b 4.sqlite"]
    assert (other / "old.sqlite").exists()

    again = run("backup_cleanup.sh", "--root", str(root), "--max-age-days", "8")
    assert again.results == {"removed": "0", "kept": "3"}
    bad = run("backup_cleanup.sh", "--root", str(root), "--keep", "0")
    assert bad.returncode == 1 and bad.errors


def test_logs_archiving(tmp_path):
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (root / "logs" / "archive").mkdir(parents=True)
    (root / "run" / "trytond.log").write_text("trytond line\n")
    (root / "logs" / "build-starter.log").write_text("build line\n")
    (root / "logs" / "empty.log").write_text("")
    old = root / "logs" / "archive" / "trytond-20000101T000000Z.log.gz"
    old.write_bytes(b"")
    _age(old, 40)

    out = run("logs_archiving.sh", "--root", str(root))
    assert out.ok, out.stdout
    assert out.steps == ["archive_logs", "prune_archives"]
    assert out.results == {"archived": "2", "pruned": "1"}
    assert (root / "run" / "trytond.log").read_text() == ""
    archives = sorted((root / "logs" / "archive").iterdir())
    assert [p.name.split("-")[0] for p in archives] == ["build", "trytond"]
    assert gzip.decompress(archives[1].read_bytes()) == b"trytond line\n"
    again = run("logs_archiving.sh", "--root", str(root))
    assert again.results == {"archived": "0", "pruned": "0"}


def test_resource_usage_monitor(tmp_path):
    root = tmp_path / "root"
    (root / "db").mkdir(parents=True)
    (root / "db" / "mu-site.sqlite").write_bytes(b"x" * 1000)
    (root / "db" / "mu-site.sqlite-wal").write_bytes(b"x" * 24)
    (root / "db" / "nu-site.sqlite").write_bytes(b"x" * 10)
    (root / "db" / ".mu-site.clone.abc").write_bytes(b"x" * 5)
    (root / "sites" / "mu-site").mkdir(parents=True)
    (root / "backups" / "mu-site").mkdir(parents=True)
    (root / "backups" / "mu-site" / "b.sqlite").write_bytes(b"x" * 300)

    out = run("resource_usage_monitor.sh", "--root", str(root))
    assert out.ok, out.stdout
    assert out.results["sites"] == "2"
    assert out.results["total_db_bytes"] == "1034"
    assert out.results["mu-site.db_bytes"] == "1024"
    assert int(out.results["mu-site.dir_bytes"]) > 0
    assert int(out.results["mu-site.backups_bytes"]) >= 300
    assert out.results["nu-site.db_bytes"] == "10"
    assert out.results["nu-site.dir_bytes"] == "0"
    # Not a real database: no sessions to count, and still measured.
    assert out.results["mu-site.active_users"] == "0"
    dir_bytes = int(out.results["mu-site.dir_bytes"])
    assert out.results["site.mu-site"] == (
        f"db_bytes:1024,disk_bytes:{1024 + dir_bytes},active_users:0"
    )
    one = run("resource_usage_monitor.sh", "--root", str(root), "--site", "nu-site")
    assert one.results["sites"] == "1"


def test_resource_usage_monitor_measures_the_shared_trytond(server):
    out = run("resource_usage_monitor.sh", "--root", str(server.root))
    assert out.ok, out.stdout
    assert int(out.results["trytond_mem_bytes"]) > 10_000_000
    assert 0 <= int(out.results["trytond_cpu_pct"]) <= 100 * os.cpu_count()


def test_restart_preloads_every_site_and_frees_deleted_names(server):
    """After a restart no site may be logged in to before trytond loaded it (trytond 8.2 would
    answer KeyError: 'res.user' and keep that database broken): the launcher preloads them."""
    assert create(server, "psi", "Psi-secret-9").ok
    assert create(server, "omega", "Omega-secret-0").ok
    root = ["--root", str(server.root)]
    # Several sites in one call: every site but psi (fewer databases to preload below).
    others = sorted(p.stem for p in (server.root / "db").glob("*.sqlite") if p.stem != "psi")
    assert "omega" in others
    deleted = run("delete_multiple_sites.sh", *root, *[a for s in others for a in ("--site", s)])
    assert deleted.ok and deleted.results == {"deleted": str(len(others))}
    assert [p.name for p in (server.root / "db").iterdir() if not p.name.startswith("psi.")] == []
    assert run("subdomain_check.sh", *root, "--site", "omega").results == {"available": "no"}

    stopped = run("bootstrap_server.sh", *root, "--rollback")
    assert stopped.ok and stopped.steps == ["stop_service"]
    assert "stopped trytond" in stopped.stdout
    assert run("system_health_check.sh", *root).results["trytond"] == "down"
    boot = run(
        "bootstrap_server.sh",
        *root, "--port", str(server.port), "--python", PYTHON, "--no-systemd",
    )  # fmt: skip
    assert boot.ok, boot.stdout
    assert "started trytond" in boot.stdout

    # Straight to common.db.login, no loading request first.
    assert_login_ok(server, "psi", "admin", "Psi-secret-9")
    assert run("subdomain_check.sh", *root, "--site", "omega").results == {"available": "yes"}
    assert create(server, "omega", "Omega-secret-0").ok
    assert_login_ok(server, "omega", "admin", "Omega-secret-0")
