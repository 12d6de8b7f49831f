"""More ops scripts: backups (backup, restore, sync), domains, certificates and firewall rules.

The backup scripts run against one throw-away Managely root with a real trytond on a free port
(bootstrapped with this interpreter, template "starter" with the sale module, built once per
session); the others only need a directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.ops.tryton_host")

from tests.ops import tryton_host  # noqa: E402
from tests.ops.tryton_host import (  # noqa: E402
    PACKAGE,
    SCRIPTS,
    Run,
    Server,
    assert_login_ok,
    bootstrapped_root,
    has_trytond,
    rpc_login,
)

STEPS = {
    "backup_site.sh": ["check_site", "dump_database", "archive", "checksum"],
    "restore_latest_backup.sh": [
        "find_backup",
        "verify_checksum",
        "restore_database",
        "check_database",
    ],
    "sync_backup_to_another_server.sh": ["copy", "verify_checksum"],
    "domain_change_script.sh": ["check_site", "write_domain"],
    "ssl_certificate_generation.sh": ["check_domain", "issue_certificate"],
    "firewall_rules_management.sh": ["validate", "record", "apply"],
}
# Scripts that need only these (and their own helpers) from the existing set.
HELPERS = ["bootstrap_server.sh", "build_template.sh", "create_site_in_isolated.sh"]


needs_trytond = pytest.mark.skipif(
    not has_trytond(), reason="trytond with the sale module is not installed here"
)


# A script listed in STEPS may print only the steps it declares (the helpers are not checked).
run = partial(tryton_host.run, steps=STEPS)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


PASSWORDS = {"acme": "Acme-secret-41", "acme-2": "Acme2-secret-52"}


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    if not has_trytond():
        pytest.skip("trytond with the sale module is not installed here")
    # Not `yield from`: trytond must also be stopped when creating a site fails.
    with contextlib.closing(bootstrapped_root(tmp_path_factory, "ops-more-root")) as roots:
        srv = next(roots)
        for site, password in PASSWORDS.items():
            made = run(
                "create_site_in_isolated.sh",
                "--root", str(srv.root), "--site", site, "--package", PACKAGE,
                secrets={"ADMIN_PASSWORD": password},
            )  # fmt: skip
            assert made.ok, made.text
        yield srv


def backup(server: Server, site: str, *extra: str) -> Run:
    out = run("backup_site.sh", "--root", str(server.root), "--site", site, *extra)
    assert out.ok, out.text
    return out


def restore(server: Server, site: str, *extra: str) -> Run:
    return run("restore_latest_backup.sh", "--root", str(server.root), "--site", site, *extra)


# --- every script ---------------------------------------------------------------------------


@pytest.mark.parametrize("script", sorted(STEPS))
def test_help_lists_the_steps(script):
    out = run(script, "--help")
    assert out.returncode == 0, out.text
    assert "Usage:" in out.stdout and "--root" in out.stdout
    for name in STEPS[script]:
        assert name in out.stdout, f"{script} --help does not declare {name}"


def test_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.environ.get("CI") == "true":
            pytest.fail("shellcheck is required under CI=true")
        pytest.skip("shellcheck is not installed")
    proc = subprocess.run(
        [shellcheck, "-S", "warning", "-x", *sorted(STEPS)],
        capture_output=True,
        text=True,
        cwd=SCRIPTS,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- backups --------------------------------------------------------------------------------


@needs_trytond
def test_backup_writes_an_archive_and_its_checksum(server):
    out = backup(server, "acme", "--label", "before_upgrade")
    assert out.steps == STEPS["backup_site.sh"]
    path = Path(out.results["path"])
    assert path.parent == server.root / "backups" / "acme"
    assert path.name.startswith("acme-") and path.name.endswith("-before_upgrade.tar.gz")
    assert path.is_file() and int(out.results["size_bytes"]) == path.stat().st_size
    assert out.results["sha256"] == sha256(path)
    sidecar = Path(f"{path}.sha256").read_text()
    assert sidecar == f"{sha256(path)}  {path.name}\n"
    with tarfile.open(path) as tar:
        names = tar.getnames()
    assert "database.sqlite" in names and "site/site.env" in names
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    # Again: a second, distinct backup.
    again = backup(server, "acme")
    assert again.results["path"] != out.results["path"]


@needs_trytond
def test_restore_into_a_scratch_database(server):
    backup(server, "acme")
    out = restore(server, "acme", "--into", "acme-drill")
    assert out.ok, out.text
    assert out.steps == STEPS["restore_latest_backup.sh"]
    assert "integrity_check: ok" in out.stdout
    drill = server.db("acme-drill")
    con = sqlite3.connect(drill)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM res_user").fetchone()[0] > 0
    finally:
        con.close()
    assert out.results["sha256"] == sha256(Path(out.results["restored_from"]))
    back = restore(server, "acme", "--into", "acme-drill", "--rollback")
    assert back.ok and not drill.exists()
    # A scratch name may not be a real site.
    refused = restore(server, "acme", "--into", "acme-2")
    assert refused.returncode == 1 and "managed site" in refused.errors[0]


@needs_trytond
def test_restore_the_live_site_keeps_the_login_working(server):
    backup(server, "acme-2")
    # A change made after the backup is undone by the restore (trytond keeps running).
    changed = run(
        "change_password_by_console_managely.sh",
        "--root", str(server.root), "--site", "acme-2", "--login", "admin",
        secrets={"NEW_PASSWORD": "Acme2-changed-63"},
    )  # fmt: skip
    assert changed.ok, changed.text
    assert_login_ok(server, "acme-2", "admin", "Acme2-changed-63")
    inode = server.db("acme-2").stat().st_ino
    out = restore(server, "acme-2")
    assert out.ok, out.text
    assert out.steps == STEPS["restore_latest_backup.sh"]
    assert server.db("acme-2").stat().st_ino == inode
    assert_login_ok(server, "acme-2", "admin", PASSWORDS["acme-2"])
    assert rpc_login(server, "acme-2", "admin", "Acme2-changed-63")[0] == 401


@needs_trytond
def test_restore_picks_the_sites_own_backup_not_a_prefix_sharing_one(server):
    mine = backup(server, "acme").results["path"]
    other = backup(server, "acme-2").results["path"]  # newer, and "acme-2-…" starts "acme-"
    out = restore(server, "acme", "--into", "acme-check")
    assert out.ok, out.text
    assert out.results["restored_from"] == mine
    refused = restore(server, "acme", "--backup", other, "--into", "acme-check")
    assert refused.returncode == 1 and refused.errors
    assert restore(server, "acme", "--into", "acme-check", "--rollback").ok


@needs_trytond
def test_restore_refuses_a_backup_whose_checksum_does_not_match(server):
    path = Path(backup(server, "acme").results["path"])
    Path(f"{path}.sha256").write_text(f"{'0' * 64}  {path.name}\n")
    out = restore(server, "acme", "--backup", str(path), "--into", "acme-bad")
    assert out.returncode == 1 and "checksum mismatch" in out.errors[0]
    assert not server.db("acme-bad").exists()
    outside = restore(server, "acme", "--backup", "/etc/passwd")
    assert outside.returncode == 1 and outside.errors


@needs_trytond
def test_sync_copies_and_verifies(server, tmp_path):
    path = Path(backup(server, "acme").results["path"])
    dest = tmp_path / "other-server"
    args = ["--root", str(server.root), "--site", "acme", "--backup", str(path)]
    out = run("sync_backup_to_another_server.sh", *args, "--dest", str(dest))
    assert out.ok, out.text
    assert out.steps == STEPS["sync_backup_to_another_server.sh"]
    copy = dest / path.name
    assert out.results == {"dest_path": str(copy), "sha256": sha256(path)}
    assert sha256(copy) == sha256(path)
    assert Path(f"{copy}.sha256").read_text() == Path(f"{path}.sha256").read_text()
    again = run("sync_backup_to_another_server.sh", *args, "--dest", str(dest))
    assert again.ok and "kept" in again.stdout

    # The destination copy does not match the recorded checksum: error, and no copy left.
    Path(f"{path}.sha256").write_text(f"{'f' * 64}  {path.name}\n")
    bad_dest = tmp_path / "bad-server"
    bad = run("sync_backup_to_another_server.sh", *args, "--dest", str(bad_dest))
    assert bad.returncode == 1 and "checksum mismatch" in bad.errors[0]
    assert bad.steps == STEPS["sync_backup_to_another_server.sh"]
    assert not (bad_dest / path.name).exists()

    hostile = run(
        "sync_backup_to_another_server.sh", *args, "--dest", str(dest), "--dest-host", "a;b@h"
    )
    assert hostile.returncode == 1 and hostile.errors[0].startswith("invalid dest_host")


# --- domains --------------------------------------------------------------------------------


@pytest.fixture
def sites_root(tmp_path):
    root = tmp_path / "root"
    for site in ("shop", "shop-2"):
        (root / "sites" / site).mkdir(parents=True)
    return root


def domain(root: Path, site: str, name: str, *extra: str) -> Run:
    return run(
        "domain_change_script.sh", "--root", str(root), "--site", site, "--domain", name, *extra
    )


def test_domain_mapping(sites_root):
    out = domain(sites_root, "shop", "erp.example.com")
    assert out.ok, out.text
    assert out.steps == STEPS["domain_change_script.sh"]
    assert out.results == {"domain": "erp.example.com"}
    assert domain(sites_root, "shop", "erp.example.com").ok
    assert domain(sites_root, "shop", "shop.example.org").ok
    mapping = sites_root / "etc" / "domains.map"
    assert mapping.read_text() == "erp.example.com shop\nshop.example.org shop\n"
    site_domains = sites_root / "sites" / "shop" / "domains"
    assert site_domains.read_text() == "erp.example.com\nshop.example.org\n"

    taken = domain(sites_root, "shop-2", "erp.example.com")
    assert taken.returncode == 1 and "already mapped to site shop" in taken.errors[0]
    assert not (sites_root / "sites" / "shop-2" / "domains").exists()
    missing = domain(sites_root, "nosite", "new.example.com")
    assert missing.returncode == 1 and "does not exist" in missing.errors[0]

    # Rollback by another site changes nothing; by the owner removes only that mapping.
    assert domain(sites_root, "shop-2", "erp.example.com", "--rollback").ok
    assert "erp.example.com shop\n" in mapping.read_text()
    back = domain(sites_root, "shop", "erp.example.com", "--rollback")
    assert back.ok, back.text
    assert mapping.read_text() == "shop.example.org shop\n"
    assert site_domains.read_text() == "shop.example.org\n"
    assert domain(sites_root, "shop", "erp.example.com", "--rollback").ok
    assert domain(sites_root, "shop-2", "erp.example.com").ok
    assert mapping.read_text() == "shop.example.org shop\nerp.example.com shop-2\n"


BAD_DOMAINS = [
    "a;b.com",
    "$(id).com",
    "`id`.com",
    "..com",
    "ex\u0430mple.com",
    ".".join(["a" * 63] * 4)[:250] + ".com",
    "foo",
    "-a.com",
    "a-.com",
    "Example.com",
    "a" * 64 + ".com",
    "a.com.",
    "a b.com",
    "a.com\nb.com",
    "",
]


@pytest.mark.parametrize("name", BAD_DOMAINS, ids=repr)
def test_hostile_domains_are_rejected(sites_root, name):
    assert len(BAD_DOMAINS[5]) == 254
    before = sorted(str(p) for p in sites_root.rglob("*"))
    runs = [
        domain(sites_root, "shop", name),
        domain(sites_root, "shop", name, "--rollback"),
        run("ssl_certificate_generation.sh", "--root", str(sites_root), "--domain", name),
    ]
    for out in runs:
        assert out.returncode == 1, out.text
        assert len(out.errors) == 1, out.stdout
        assert out.errors[0].startswith(("invalid domain", "--domain is required")), out.errors
        assert all(line.startswith("::") for line in out.stdout.splitlines()), out.stdout
    assert sorted(str(p) for p in sites_root.rglob("*")) == before


# --- certificates ---------------------------------------------------------------------------


def test_self_signed_certificate(tmp_path):
    root = tmp_path / "root"
    out = run("ssl_certificate_generation.sh", "--root", str(root), "--domain", "erp.example.com")
    assert out.ok, out.text
    assert out.steps == STEPS["ssl_certificate_generation.sh"]
    cert = root / "certs" / "erp.example.com" / "fullchain.pem"
    key = root / "certs" / "erp.example.com" / "privkey.pem"
    assert out.results["cert_path"] == str(cert)
    assert cert.is_file() and key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    subject = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-subject", "-nameopt", "RFC2253"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert subject.strip() == "subject=CN=erp.example.com"
    text = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DNS:erp.example.com" in text
    enddate = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-enddate"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.results["expires"] == enddate.strip().removeprefix("notAfter=")
    # The key belongs to the certificate.
    pub_cert = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"],
        capture_output=True,
        check=True,
    ).stdout
    pub_key = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout"], capture_output=True, check=True
    ).stdout
    assert pub_cert == pub_key
    # Idempotent: kept.
    before = cert.read_bytes()
    again = run("ssl_certificate_generation.sh", "--root", str(root), "--domain", "erp.example.com")
    assert again.ok and "kept" in again.stdout and cert.read_bytes() == before


def test_acme_without_certbot_is_a_readable_error(tmp_path):
    if shutil.which("certbot"):
        pytest.skip("certbot is installed here")
    root = tmp_path / "root"
    out = run(
        "ssl_certificate_generation.sh",
        "--root", str(root), "--domain", "erp.example.com", "--mode", "acme",
        "--email", "ops@example.com",
    )  # fmt: skip
    assert out.returncode == 1
    assert out.errors[0].startswith("certbot is not installed")
    assert not (root / "certs" / "erp.example.com" / "fullchain.pem").exists()
    bad = run(
        "ssl_certificate_generation.sh",
        "--root", str(root), "--domain", "erp.example.com", "--mode", "acme;id",
    )  # fmt: skip
    assert bad.returncode == 1 and bad.errors[0].startswith("invalid mode")


# --- firewall -------------------------------------------------------------------------------


def firewall(root: Path, *args: str) -> Run:
    return run("firewall_rules_management.sh", "--root", str(root), *args)


def test_firewall_rules_are_recorded_once(tmp_path):
    root = tmp_path / "root"
    rules = root / "etc" / "firewall.rules"
    out = firewall(root, "--action", "allow", "--port", "443")
    assert out.ok, out.text
    assert out.steps == STEPS["firewall_rules_management.sh"]
    assert "not applied:" in out.stdout
    assert out.results == {"rules": "1"}
    assert firewall(root, "--action", "allow", "--port", "443").results == {"rules": "1"}
    two = firewall(root, "--action", "deny", "--port", "5432", "--source", "10.0.0.0/8")
    assert two.results == {"rules": "2"}
    assert rules.read_text() == "allow 443/tcp from any\ndeny 5432/tcp from 10.0.0.0/8\n"
    # Another action for the same port/proto/source replaces the rule.
    assert firewall(root, "--action", "deny", "--port", "443").results == {"rules": "2"}
    assert rules.read_text() == "deny 5432/tcp from 10.0.0.0/8\ndeny 443/tcp from any\n"
    udp = firewall(
        root, "--action", "allow", "--port", "51820", "--proto", "udp", "--source", "2001:db8::/32"
    )
    assert udp.ok and udp.results == {"rules": "3"}
    back = firewall(root, "--action", "deny", "--port", "443", "--rollback")
    assert back.ok and back.results == {"rules": "2"}
    assert "443/tcp" not in rules.read_text()


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "0"],
        ["--port", "65536"],
        ["--port", "22;id"],
        ["--port", "$(id)"],
        ["--port", "-1"],
        ["--port", ""],
        ["--port", "80", "--source", "10.0.0.0/33"],
        ["--port", "80", "--source", "256.1.1.1"],
        ["--port", "80", "--source", "10.0.0.1;id"],
        ["--port", "80", "--source", "1::2::3"],
        ["--port", "80", "--source", "any host"],
        ["--port", "80", "--proto", "icmp"],
    ],
    ids=repr,
)
def test_firewall_rejects_hostile_values(tmp_path, args):
    root = tmp_path / "root"
    out = firewall(root, "--action", "allow", *args)
    assert out.returncode == 1 and len(out.errors) == 1, out.text
    assert out.errors[0].startswith(("invalid", "--port is required")), out.errors
    assert not (root / "etc" / "firewall.rules").exists()
    bad_action = firewall(root, "--action", "reject", "--port", "80")
    assert bad_action.returncode == 1 and bad_action.errors[0].startswith("invalid action")


@pytest.mark.parametrize("name", ["a;b", "x$(id)", "..", "../etc", "Acme", "ab\ncd", ""], ids=repr)
def test_bad_site_names_are_rejected(tmp_path, name):
    root = tmp_path / "root"
    root.mkdir()
    sync_args = ["--root", str(root), "--site", name, "--backup", "/tmp/x.tar.gz"]
    sync_args += ["--dest", "/tmp/d"]
    runs = [
        run("backup_site.sh", "--root", str(root), "--site", name),
        run("restore_latest_backup.sh", "--root", str(root), "--site", name),
        run("restore_latest_backup.sh", "--root", str(root), "--site", "acme", "--into", name),
        run("sync_backup_to_another_server.sh", *sync_args),
        run("domain_change_script.sh", "--root", str(root), "--site", name, "--domain", "a.com"),
    ]
    for out in runs:
        assert out.returncode == 1 and len(out.errors) == 1, out.text
        assert out.errors[0].startswith(("invalid site", "--site is required")), out.errors
        assert all(line.startswith("::") for line in out.stdout.splitlines()), out.stdout
    assert list(root.rglob("*")) == []
