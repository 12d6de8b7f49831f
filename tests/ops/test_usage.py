"""resource_usage_monitor.sh on a throw-away root: per-site usage and active ERP users."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.ops.tryton_host import run


def make_site_db(path: Path, sessions: list[tuple[int, datetime, datetime | None]]) -> None:
    """A site database with an ir_session table as trytond writes it (UTC text timestamps)."""
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE ir_session (id INTEGER PRIMARY KEY, key VARCHAR, create_uid INTEGER,"
        " create_date TIMESTAMP, write_uid INTEGER, write_date TIMESTAMP)"
    )
    for uid, created, written in sessions:
        con.execute(
            "INSERT INTO ir_session (key, create_uid, create_date, write_date) VALUES (?, ?, ?, ?)",
            (
                f"k{uid}",
                uid,
                created.replace(tzinfo=None).isoformat(" "),
                written and written.replace(tzinfo=None).isoformat(" "),
            ),
        )
    con.commit()
    con.close()


def make_root(root: Path) -> None:
    now = datetime.now(UTC)
    (root / "db").mkdir(parents=True)
    make_site_db(
        root / "db" / "acme.sqlite",
        [
            (1, now - timedelta(hours=2), now - timedelta(minutes=2)),  # active, refreshed
            (1, now - timedelta(minutes=3), None),  # the same user again: counted once
            (2, now - timedelta(minutes=5), None),
            (3, now - timedelta(hours=3), now - timedelta(hours=1)),  # gone quiet
        ],
    )
    (root / "db" / "quiet.sqlite").write_bytes(b"not a database")
    (root / "sites" / "acme").mkdir(parents=True)
    (root / "sites" / "acme" / "site.env").write_text("package=starter\n")


def test_it_reports_each_sites_usage_and_active_users(tmp_path):
    make_root(tmp_path)
    out = run("resource_usage_monitor.sh", "--root", str(tmp_path))
    assert out.ok, out.stdout + out.stderr
    assert out.steps == ["measure"]
    db_bytes = (tmp_path / "db" / "acme.sqlite").stat().st_size
    dir_bytes = int(out.results["acme.dir_bytes"])
    assert out.results["acme.active_users"] == "2"
    assert out.results["site.acme"] == (
        f"db_bytes:{db_bytes},disk_bytes:{db_bytes + dir_bytes},active_users:2"
    )
    assert out.results["quiet.active_users"] == "0"
    assert out.results["sites"] == "2"
    # No trytond runs under this root: its shared usage is reported as zero, not guessed.
    assert out.results["trytond_cpu_pct"] == "0"
    assert out.results["trytond_mem_bytes"] == "0"


def test_help_names_the_shared_erp_server():
    out = run("resource_usage_monitor.sh", "--help")
    assert out.ok
    assert "active_users" in out.stdout and "shared by every site" in out.stdout
