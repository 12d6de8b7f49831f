"""Backups end to end with the real scripts on two local "servers" (two Managely roots): the
schedule, the copy checked on arrival, restore, retention per site, drills, and log archiving.

A site here is what the scripts need without trytond: ``db/<site>.sqlite`` (with a res_user
table, which the restore check reads) and ``sites/<site>/site.env``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from managely.jobs import backups as backup_jobs
from managely.jobs import logs as log_jobs
from managely.models.accounts import ServiceBeneficiary
from managely.models.catalog import Package
from managely.models.launches import Backup, BackupKind, BackupStatus, Launch, LaunchStatus
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.platform import Alert, ClockRun
from managely.models.servers import ServerStatus
from managely.services import backup_drills, backups, servers, site_tasks
from tests.ops.tryton_host import run


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def users(root: Path, site: str) -> list[str]:
    with sqlite3.connect(root / "db" / f"{site}.sqlite") as con:
        return [row[0] for row in con.execute("SELECT login FROM res_user ORDER BY id")]


def make_site_files(root: Path, site: str) -> None:
    (root / "db").mkdir(parents=True, exist_ok=True)
    (root / "sites" / site).mkdir(parents=True, exist_ok=True)
    (root / "sites" / site / "site.env").write_text(f"site={site}\n")
    with sqlite3.connect(root / "db" / f"{site}.sqlite") as con:
        con.execute("CREATE TABLE res_user (id INTEGER PRIMARY KEY, login TEXT)")
        con.execute("INSERT INTO res_user (login) VALUES ('admin')")
    con.close()


async def add_server(name: str, root: Path, region: str = "default"):
    server = await servers.add_server(
        name=name, host="127.0.0.1", driver="local", root=str(root), region=region
    )
    server.status = ServerStatus.ACTIVE
    await server.save()
    return server


@pytest.fixture
async def primary(database, tmp_path):
    return await add_server("primary", tmp_path / "primary")


@pytest.fixture
async def package(database):
    package, _ = await Package.get_or_create(
        slug="starter",
        defaults={"name_en": "Starter", "name_ar": "المبتدئ", "backup_schedule": "6h"},
    )
    return package


async def make_site(owner, server, package, site: str) -> Launch:
    make_site_files(Path(server.sites_root), site)
    return await Launch.create(
        user=owner,
        beneficiary=await ServiceBeneficiary.filter(owner=owner).first(),
        package=package,
        server=server,
        subdomain=site,
        site_name=site,
        status=LaunchStatus.ACTIVE,
    )


async def test_a_scheduled_backup_is_copied_verified_and_restores_with_its_checksum(
    alice, primary, package, tmp_path, run_jobs
):
    second = await add_server("second", tmp_path / "second", region="eu")
    acme = await make_site(alice, primary, package, "acme")

    assert await backup_jobs.schedule.run() == {"queued": 1, "not_due": 0}
    await run_jobs()
    assert (await ClockRun.get(task="backups.schedule")).detail == "queued 1, not_due 0"
    backup = await Backup.get(launch=acme)
    archive = Path(backup.path)
    assert backup.status == BackupStatus.SUCCEEDED, backup.error
    assert backup.kind == BackupKind.SCHEDULED
    assert archive.parent == tmp_path / "primary" / "backups" / "acme"
    assert backup.sha256 == sha256(archive) and backup.size_bytes == archive.stat().st_size
    replica = tmp_path / "second" / "replicas" / "acme" / archive.name
    assert backup.replica_server_id == second.id and backup.replica_path == str(replica)
    assert sha256(replica) == backup.sha256 and backup.replica_verified_at is not None
    # Nothing else is due within the package's six hours.
    assert await backups.schedule_due() == {"queued": 0, "not_due": 1}

    with sqlite3.connect(tmp_path / "primary" / "db" / "acme.sqlite") as con:
        con.execute("INSERT INTO res_user (login) VALUES ('after-the-backup')")
    con.close()
    operation = await site_tasks.restore(acme)
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED, operation.error_detail
    assert operation.result["sha256"] == backup.sha256
    assert users(tmp_path / "primary", "acme") == ["admin"]


async def test_the_schedule_waits_for_the_interval_a_recent_failure_and_a_running_backup(
    alice, primary, package
):
    assert backups.parse_schedule("daily") == timedelta(days=1)
    assert backups.parse_schedule("6h") == timedelta(hours=6)
    assert backups.parse_schedule("off") is None and backups.parse_schedule("0h") is None
    acme = await make_site(alice, primary, package, "acme")
    now = datetime.now(UTC)
    done = await Backup.create(
        launch=acme, server=primary, kind=BackupKind.SCHEDULED, status=BackupStatus.SUCCEEDED
    )
    await Backup.filter(id=done.id).update(created_at=now - timedelta(hours=5))
    assert not await backups.is_due(acme, timedelta(hours=6), now)
    assert await backups.is_due(acme, timedelta(hours=6), now + timedelta(hours=1, minutes=1))

    failed = await Backup.create(
        launch=acme, server=primary, kind=BackupKind.SCHEDULED, status=BackupStatus.FAILED
    )
    await Backup.filter(id=failed.id).update(created_at=now - timedelta(minutes=10))
    later = now + timedelta(hours=2)
    assert not await backups.is_due(acme, timedelta(hours=6), now + timedelta(minutes=30))
    assert await backups.is_due(acme, timedelta(hours=6), later)
    await Backup.create(launch=acme, server=primary, kind=BackupKind.MANUAL)  # running
    assert not await backups.is_due(acme, timedelta(hours=6), later)


async def test_a_failed_upload_marks_the_backup_failed_with_its_reason_and_alerts_staff(
    alice, primary, package, tmp_path, run_jobs
):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("the copy cannot make its folder under a file")
    second = await add_server("second", blocked)
    acme = await make_site(alice, primary, package, "acme")

    backup = await site_tasks.back_up(acme, BackupKind.SCHEDULED)
    await run_jobs()
    await backup.refresh_from_db()
    assert backup.status == BackupStatus.FAILED
    assert backup.error.startswith(f"replica on {second.name}: copy: ")
    assert backup.replica_verified_at is None and backup.replica_path == ""
    alert = await Alert.get(key=f"backup:{acme.code}", resolved_at=None)
    assert alert.subject == "Backup of acme failed" and "replica on second" in alert.body
    made = await SaaSOperation.filter(kind=OperationKind.BACKUP).order_by("id")
    assert [(op.params.get("variant", ""), op.status) for op in made] == [
        ("", OperationStatus.SUCCEEDED),
        ("replica", OperationStatus.FAILED),
    ]

    # Once the second server can take copies again, a good backup closes the alert.
    blocked.unlink()
    await backups.start_backup(acme, BackupKind.SCHEDULED)
    await run_jobs()
    assert await Alert.filter(key=f"backup:{acme.code}", resolved_at=None).count() == 0
    assert (await Backup.filter(launch=acme).order_by("-id").first()).status == "succeeded"


def _archive(root: Path, site: str, at: datetime, kind: str = "backups") -> Path:
    folder = root / kind / site
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{site}-{at:%Y%m%dT%H%M%SZ}.tar.gz"
    path.write_bytes(f"{site} {at}".encode())
    (folder / f"{path.name}.sha256").write_text(f"{sha256(path)}  {path.name}\n")
    return path


async def _backup_row(launch: Launch, server, path: Path, at: datetime, **extra) -> Backup:
    backup = await Backup.create(
        launch=launch,
        server=server,
        kind=BackupKind.SCHEDULED,
        status=BackupStatus.SUCCEEDED,
        path=str(path),
        sha256=sha256(path),
        **extra,
    )
    await Backup.filter(id=backup.id).update(created_at=at)
    return backup


async def test_retention_keeps_the_package_counts_and_never_touches_a_prefix_sharing_site(
    alice, primary, package, tmp_path
):
    package.backup_keep_daily, package.backup_keep_weekly = 2, 0
    package.backup_keep_monthly = 0
    await package.save()
    root = Path(primary.sites_root)
    acme = await make_site(alice, primary, package, "acme")
    acme2 = await make_site(alice, primary, package, "acme2")
    start = datetime(2026, 11, 1, 3, tzinfo=UTC)
    days = [start + timedelta(days=n) for n in range(4)]
    second = await add_server("second", tmp_path / "second")
    for at in days:
        for launch in (acme, acme2):
            site = launch.site_name
            copy = _archive(tmp_path / "second", site, at, "replicas")
            await _backup_row(
                launch, primary, _archive(root, site, at), at,
                replica_server=second, replica_path=str(copy),
            )  # fmt: skip
    # A damaged row of acme pointing at acme2's archive: deleting it must not reach acme2.
    stray = await _backup_row(acme, primary, root / "backups/acme2/acme2-20261101T030000Z.tar.gz",
                              start - timedelta(days=9))  # fmt: skip
    theirs_before = sorted(p.name for p in (root / "backups" / "acme2").iterdir())

    acme = await Launch.get(id=acme.id).prefetch_related("package")
    assert await backups.prune_site(acme) == 2  # the two oldest days; the stray stays
    kept = sorted(p.name for p in (root / "backups" / "acme").iterdir())
    assert kept == [
        "acme-20261103T030000Z.tar.gz",
        "acme-20261103T030000Z.tar.gz.sha256",
        "acme-20261104T030000Z.tar.gz",
        "acme-20261104T030000Z.tar.gz.sha256",
    ]
    assert sorted(p.name for p in (root / "backups" / "acme2").iterdir()) == theirs_before
    replicas = tmp_path / "second" / "replicas"
    assert sorted(p.name for p in (replicas / "acme").glob("*.gz")) == kept[::2]
    assert len(list((replicas / "acme2").glob("*.gz"))) == 4
    assert await Backup.filter(launch=acme2).count() == 4
    assert await Backup.filter(id=stray.id).exists(), "a refused deletion keeps its row"
    assert await Backup.filter(launch=acme).exclude(id=stray.id).count() == 2


def test_retention_keeps_the_newest_of_each_day_week_and_month():
    at = datetime(2026, 11, 24, 12, tzinfo=UTC)
    rows = [Backup(id=n, created_at=at - timedelta(hours=12 * n)) for n in range(120)]
    kept = backups.retained(rows, {"daily": 3, "weekly": 2, "monthly": 2})
    # Days: the 24th, 23rd and 22nd at noon (rows 0, 2, 4). Weeks: this one (row 0) and the
    # one ending Sunday the 22nd (row 4). Months: November (row 0), October 31st (row 48).
    assert sorted(kept) == [0, 2, 4, 48]


async def test_a_restore_drill_opens_the_latest_backup_and_a_corrupt_one_alerts(
    alice, primary, package, tmp_path, run_jobs
):
    acme = await make_site(alice, primary, package, "acme")
    backup = await site_tasks.back_up(acme, BackupKind.SCHEDULED)
    await run_jobs()
    await backup.refresh_from_db()
    db_dir = tmp_path / "primary" / "db"

    assert await backup_jobs.drill.run() == {"queued": 1}
    await run_jobs()
    drill = await SaaSOperation.get(kind=OperationKind.RESTORE_DRILL)
    assert drill.status == OperationStatus.SUCCEEDED, drill.error_detail
    assert drill.result["sha256"] == backup.sha256
    assert sorted(p.name for p in db_dir.iterdir()) == ["acme.sqlite"], "the scratch is gone"

    archive = Path(backup.path)
    archive.write_bytes(archive.read_bytes() + b"bit rot")
    assert await backup_drills.start_drills(sample=3) == 1
    await run_jobs()
    failed = await SaaSOperation.filter(kind=OperationKind.RESTORE_DRILL).order_by("-id").first()
    assert failed.status == OperationStatus.FAILED
    assert "checksum mismatch" in failed.error_detail
    alert = await Alert.get(key=f"backup-drill:{acme.code}")
    assert alert.subject == "Restore drill of acme failed"
    assert sorted(p.name for p in db_dir.iterdir()) == ["acme.sqlite"]


def _age(path: Path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


async def test_logs_are_rotated_and_compressed_on_every_server(primary, tmp_path):
    root = tmp_path / "primary"
    (root / "run").mkdir(parents=True)
    (root / "run" / "trytond.log").write_text("trytond line\n")
    site_logs = root / "sites" / "acme" / "logs"
    site_logs.mkdir(parents=True)
    (site_logs / "access.log").write_text("GET /\n")
    (site_logs / "access.log.1").write_text("yesterday\n")
    _age(site_logs / "access.log.1", 30)
    (site_logs / "error.log.1").write_text("an hour ago\n")
    _age(site_logs / "error.log.1", 1)

    outcome = await log_jobs.archive.run()
    assert outcome == {"servers": 1, "archived": 3, "pruned": 0, "failed": 0}
    assert (root / "run" / "trytond.log").read_text() == ""
    platform = list((root / "logs" / "archive").iterdir())
    assert [gzip.decompress(p.read_bytes()) for p in platform] == [b"trytond line\n"]
    archived = {p.name.split("-")[0]: gzip.decompress(p.read_bytes()) for p in (site_logs / "archive").iterdir()}  # fmt: skip
    assert archived == {"access": b"GET /\n", "access.1": b"yesterday\n"}
    assert sorted(p.name for p in site_logs.iterdir()) == ["access.log", "archive", "error.log.1"]


def test_cleanup_deletes_only_the_named_archives_of_its_own_site(tmp_path):
    at = datetime(2026, 11, 1, 3, tzinfo=UTC)
    mine, theirs = _archive(tmp_path, "acme", at), _archive(tmp_path, "acme2", at)
    cleanup = ["--root", str(tmp_path), "--site", "acme", "--delete"]
    refused = run("backup_cleanup.sh", *cleanup, theirs.name)
    assert refused.returncode == 1
    assert refused.errors == [f"--delete {theirs.name} is not a backup of site acme"]
    out = run("backup_cleanup.sh", *cleanup, mine.name)
    assert out.ok and out.results == {"removed": "2", "kept": "0"}
    assert not mine.exists() and theirs.exists()
    assert sorted(p.name for p in theirs.parent.iterdir()) == [theirs.name, f"{theirs.name}.sha256"]
