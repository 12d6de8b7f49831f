"""The system page and its actions, on a local server whose scripts are stand-ins.

The stand-ins print the real scripts' steps and results and record their arguments (and the
new password a reset hands them), so every action runs its whole operation without trytond;
tests/test_provisioning.py runs the real scripts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from managely import crypto
from managely.hosts.local import LocalDriver
from managely.models.accounts import ServiceBeneficiary
from managely.models.addons import AddonApp, AddonBilling, UserInstalledAddon
from managely.models.billing import WalletTransaction
from managely.models.catalog import Package
from managely.models.launches import (
    Backup,
    BackupKind,
    BackupStatus,
    Certificate,
    CustomDomain,
    Launch,
    LaunchStatus,
    LaunchUserCredentials,
)
from managely.models.operations import SaaSOperation
from managely.models.servers import Server, ServerStatus
from managely.services import launches, servers, systems
from managely.services import wallet as wallet_service
from managely.services.errors import ServiceError
from tests.conftest import PASSWORD
from tests.subscriptions_support import fund
from tests.support import text

STUB = """#!/usr/bin/env bash
# A stand-in for {script}: records its arguments, prints its steps and results.
set -euo pipefail
here="$(dirname "$0")"
printf '{script} %s\\n' "$*" >>"$here/calls.log"
if [[ -e "$here/fail-{script}" ]]; then printf '::step %s\\n' {first}; echo boom >&2; exit 3; fi
while IFS= read -r -t 1 line; do
  [[ $line == NEW_PASSWORD=* ]] && printf '%s' "${{line#NEW_PASSWORD=}}" >"$here/new_password"
done || true
root= site=
while (($#)); do case $1 in --root) root=$2; shift 2;; --site) site=$2; shift 2;; *) shift;; esac; done
for step in {steps}; do printf '::step %s\\n' "$step"; done
{extra}
printf '::progress 100\\n'
"""
BACKUP_EXTRA = """archive="$root/backups/$site/$site-$RANDOM$RANDOM.tar.gz"
mkdir -p "$(dirname "$archive")"
printf 'archive of %s' "$site" >"$archive"
printf '::result path=%s\\n' "$archive"
printf '::result size_bytes=%s\\n' "$(stat -c %s "$archive")"
printf '::result sha256=%s\\n' "$(sha256sum "$archive" | cut -d' ' -f1)"
"""
SCRIPTS = {
    "change_password_by_console_managely.sh": ("check_site set_password verify_login", ""),
    "backup_site.sh": ("check_site dump_database archive checksum", BACKUP_EXTRA),
    "restore_latest_backup.sh": (
        "find_backup verify_checksum restore_database check_database",
        "",
    ),
    "domain_change_script.sh": ("check_site write_domain", ""),
    "ssl_certificate_generation.sh": (
        "check_domain issue_certificate",
        "printf '::result expires=Feb  2 12:00:00 2031 GMT\\n'",
    ),
    "install_addon.sh": (
        "check_site check_modules activate_modules verify",
        "echo 'activated: analytic_account'",
    ),
    "delete_multiple_sites.sh": ("check_sites delete_sites", ""),
}


@pytest.fixture
async def scripts(tmp_path) -> Path:
    folder = tmp_path / "scripts"
    folder.mkdir()
    for script, (steps, extra) in SCRIPTS.items():
        first = steps.split()[0]
        (folder / script).write_text(
            STUB.format(script=script, steps=steps, extra=extra, first=first)
        )
    return folder


@pytest.fixture
async def server(database, tmp_path, scripts):
    server = await servers.add_server(
        name="systems-host",
        host="127.0.0.1",
        driver="local",
        root=str(tmp_path / "root"),
        capacity=10,
        region="eu-west",
    )
    server.status = ServerStatus.ACTIVE
    await server.save()
    servers.set_driver(server, LocalDriver(scripts_dir=scripts))
    return server


async def make_system(owner, server, subdomain: str) -> Launch:
    package, _ = await Package.get_or_create(
        slug="starter", defaults={"name_en": "Starter", "name_ar": "المبتدئ"}
    )
    launch = await Launch.create(
        user=owner,
        beneficiary=await ServiceBeneficiary.filter(owner=owner).first(),
        package=package,
        server=server,
        subdomain=subdomain,
        site_name=f"s{subdomain.replace('-', '')}",
        status=LaunchStatus.ACTIVE,
        url=f"http://127.0.0.1:8000/{subdomain}/",
        erp_version="7.4.2",
    )
    await LaunchUserCredentials.create(
        launch=launch, username="admin", password_encrypted=crypto.encrypt("old-pass-123")
    )
    return launch


@pytest.fixture
async def system(alice, server) -> Launch:
    return await make_system(alice, server, "acme")


def progress_code(response) -> str:
    assert response.status_code == 302, response.status_code
    location = response.headers["Location"]
    assert location.startswith("/operations/")
    return location.rsplit("/", 1)[1]


async def finished(code: str, run_jobs) -> SaaSOperation:
    await run_jobs()
    operation = await SaaSOperation.get(code=code)
    assert operation.status == "succeeded", operation.error_detail
    return operation


async def test_the_page_shows_the_system_and_its_sections(alice_client, system):
    page = await text(await alice_client.get(f"/panel/systems/{system.code}"))
    for expected in (system.url, "Starter", "eu-west", "7.4.2", "Active"):
        assert expected in page
    for section in ('id="credentials"', 'id="reset-password"', 'id="domain"', 'id="backups"'):
        assert section in page
    assert 'id="addons"' in page and 'id="history"' in page and 'id="delete"' in page


async def test_a_reset_sets_a_new_password_only_once_the_site_has_it(
    alice_client, system, scripts, run_jobs
):
    url = f"/panel/systems/{system.code}/credentials/reset"
    wrong = await alice_client.post(url, {"password": "not-mine-1"})
    assert wrong.status_code == 400
    assert "That is not your password." in await text(wrong)
    assert not await SaaSOperation.exists(launch=system)

    (scripts / "fail-change_password_by_console_managely.sh").touch()
    failed = await SaaSOperation.get(
        code=progress_code(await alice_client.post(url, {"password": PASSWORD}))
    )
    await run_jobs()
    await failed.refresh_from_db()
    assert failed.status == "failed"
    assert "current administrator password still works" in failed.error_message
    assert await launches.credentials_of(system) == ("admin", "old-pass-123")

    (scripts / "fail-change_password_by_console_managely.sh").unlink()
    code = progress_code(await alice_client.post(url, {"password": PASSWORD}))
    operation = await finished(code, run_jobs)
    login, password = await launches.credentials_of(system)
    assert login == "admin" and password != "old-pass-123" and len(password) >= 15
    assert (scripts / "new_password").read_text() == password, "the site got the stored one"
    assert operation.params == {"variant": "reset"}, "no copy left in the operation"
    assert "old-pass-123" not in (scripts / "calls.log").read_text()
    shown = await text(
        await alice_client.post(f"/panel/systems/{system.code}/credentials", {"password": PASSWORD})
    )
    assert password in shown


async def test_the_dns_check_says_whether_the_domain_points_here(alice_client, system, monkeypatch):
    answers = {"erp.example.com": ("127.0.0.1",), "elsewhere.example.com": ("203.0.113.9",)}

    async def resolve(name: str):
        if name in answers:
            return answers[name]
        if name == "127.0.0.1":
            return ("127.0.0.1",)
        raise OSError("no such name")

    monkeypatch.setattr(systems, "resolve", resolve)
    url = f"/panel/systems/{system.code}/domain/check?domain="
    htmx = {"HX-Request": "true"}
    here = await text(await alice_client.get(url + "ERP.example.com", headers=htmx))
    assert here.startswith('<div id="dns-check"') and "points at your system" in here
    away = await text(await alice_client.get(url + "elsewhere.example.com", headers=htmx))
    assert "does not point at your system" in away and "203.0.113.9" in away
    missing = await text(await alice_client.get(url + "nowhere.example.com", headers=htmx))
    assert "does not resolve yet" in missing
    bad = await text(await alice_client.get(url + "localhost", headers=htmx))
    assert "Enter a domain name" in bad
    page = await text(await alice_client.get(url + "erp.example.com"))
    assert 'id="backups"' in page and "points at your system" in page


async def test_a_domain_change_queues_its_certificate_and_a_taken_domain_is_refused(
    alice_client, charlie, charlie_client, system, server, run_jobs
):
    code = progress_code(
        await alice_client.post(f"/panel/systems/{system.code}/domain", {"domain": "erp.acme.com"})
    )
    await finished(code, run_jobs)
    await system.refresh_from_db()
    assert system.custom_domain == "erp.acme.com"
    assert (await CustomDomain.get(launch=system)).status == "active"
    assert (await Certificate.get(launch=system)).status == "issued"
    page = await text(await alice_client.get(f"/panel/systems/{system.code}"))
    assert "erp.acme.com" in page and "Issued" in page

    other = await make_system(charlie, server, "other-co")
    before = await SaaSOperation.all().count()
    taken = await charlie_client.post(
        f"/panel/systems/{other.code}/domain", {"domain": "erp.acme.com"}
    )
    assert taken.status_code == 409
    assert "already used by another system" in await text(taken)
    assert await SaaSOperation.all().count() == before
    assert await CustomDomain.filter(launch=other).count() == 0


async def test_backups_are_made_listed_downloaded_and_restored_with_confirmation(
    alice_client, charlie, system, server, scripts, run_jobs
):
    code = progress_code(await alice_client.post(f"/panel/systems/{system.code}/backups"))
    await finished(code, run_jobs)
    backup = await Backup.get(launch=system)
    assert backup.status == "succeeded" and backup.size_bytes == len(
        f"archive of {system.site_name}"
    )
    page = await text(await alice_client.get(f"/panel/systems/{system.code}"))
    assert f"/backups/{backup.code}/download" in page

    download = await alice_client.get(
        f"/panel/systems/{system.code}/backups/{backup.code}/download"
    )
    assert download.status_code == 200
    assert await download.get_data() == f"archive of {system.site_name}".encode()
    assert "attachment" in download.headers["Content-Disposition"]

    restore = f"/panel/systems/{system.code}/backups/{backup.code}/restore"
    before = await SaaSOperation.all().count()
    wrong = await alice_client.post(restore, {"confirm": "acme-typo"})
    assert wrong.status_code == 400
    assert "Type the system name acme exactly to confirm." in await text(wrong)
    assert await SaaSOperation.all().count() == before

    foreign = await make_system(charlie, server, "other-co")
    theirs = await Backup.create(
        launch=foreign,
        server=server,
        kind=BackupKind.MANUAL,
        status=BackupStatus.SUCCEEDED,
        path=backup.path,
    )
    stolen = f"/panel/systems/{system.code}/backups/{theirs.code}/restore"
    assert (await alice_client.post(stolen, {"confirm": "acme"})).status_code == 404
    assert await SaaSOperation.all().count() == before, "nothing queued"
    assert (
        await alice_client.get(f"/panel/systems/{system.code}/backups/{theirs.code}/download")
    ).status_code == 404

    operation = await finished(
        progress_code(await alice_client.post(restore, {"confirm": " ACME "})), run_jobs
    )
    assert operation.kind == "restore" and operation.params == {"backup": backup.id}
    assert f"--backup {backup.path}" in (scripts / "calls.log").read_text()


async def test_a_backup_on_an_ssh_server_is_not_downloaded(alice_client, system, server):
    ssh = await Server.create(name="far-host", host="10.0.0.9", driver="ssh", region="eu")
    backup = await Backup.create(
        launch=system,
        server=ssh,
        kind=BackupKind.MANUAL,
        status=BackupStatus.SUCCEEDED,
        path="/srv/managely/backups/x/x.tar.gz",
        size_bytes=10,
    )
    response = await alice_client.get(
        f"/panel/systems/{system.code}/backups/{backup.code}/download"
    )
    assert response.status_code == 409
    assert "available for systems on local servers only" in await text(response)


async def test_a_deletion_needs_the_typed_name(alice_client, charlie_client, system, run_jobs):
    url = f"/panel/systems/{system.code}/delete"
    assert (await charlie_client.post(url, {"confirm": "acme"})).status_code == 404
    wrong = await alice_client.post(url, {"confirm": "acm"})
    assert wrong.status_code == 400
    assert "Type the system name acme exactly to confirm." in await text(wrong)
    await system.refresh_from_db()
    assert system.status == "active" and not await SaaSOperation.exists(launch=system)

    await finished(progress_code(await alice_client.post(url, {"confirm": "acme"})), run_jobs)
    await system.refresh_from_db()
    assert system.status == LaunchStatus.DELETED
    assert (await alice_client.get(f"/panel/systems/{system.code}")).status_code == 404


@pytest.fixture
async def addon(system) -> AddonApp:
    addon = await AddonApp.create(
        slug="analytics",
        name_en="Analytics",
        name_ar="التحليلات",
        tryton_module="analytic_account",
        price_minor=1500,
        currency="USD",
        billing=AddonBilling.RECURRING,
    )
    await addon.packages.add(await Package.get(slug="starter"))
    return addon


async def test_an_add_on_needs_the_money_then_installs_and_shows_its_log(
    alice, alice_client, charlie_client, system, addon, run_jobs
):
    page = await text(await alice_client.get(f"/panel/systems/{system.code}"))
    assert "Analytics" in page and "$15.00" in page and "per billing period" in page
    form = {"system": system.code, "addon": "analytics"}
    assert (await charlie_client.post("/addons/install_app", form)).status_code == 404

    poor = await alice_client.post("/addons/install_app", form)
    assert poor.status_code == 402
    body = await text(poor)
    assert "Your wallet balance is too low" in body
    assert re.search(r'href="/panel/wallet\?currency=USD&amp;amount=15[.0]*&amp;next=', body)
    assert not await UserInstalledAddon.exists(launch=system)
    assert not await SaaSOperation.exists(launch=system)
    assert not await WalletTransaction.filter(kind="charge").exists()

    await fund(alice, 2000)
    code = progress_code(await alice_client.post("/addons/install_app", form))
    assert await wallet_service.balance(alice, "USD") == 500
    charge = await WalletTransaction.get(kind="charge")
    assert charge.amount_minor == -1500 and charge.idempotency_key == f"addon:{code}"
    await finished(code, run_jobs)
    record = await UserInstalledAddon.get(launch=system)
    assert record.status == "installed"
    page = await text(await alice_client.get(f"/panel/systems/{system.code}"))
    assert "activated: analytic_account" in page and "Removal is not available" in page

    again = await alice_client.post("/addons/install_app", form)
    assert again.status_code == 409 and "already installed" in await text(again)
    assert await wallet_service.balance(alice, "USD") == 500, "no second charge"


async def test_a_failed_add_on_install_is_refunded_once_and_keeps_its_log(
    alice, alice_client, system, addon, scripts, run_jobs
):
    from managely.models.addons import InstallationLog
    from managely.services import site_tasks

    await fund(alice, 2000)
    (scripts / "fail-install_addon.sh").touch()
    form = {"system": system.code, "addon": "analytics"}
    code = progress_code(await alice_client.post("/addons/install_app", form))
    await run_jobs()
    operation = await SaaSOperation.get(code=code)
    record = await UserInstalledAddon.get(launch=system)
    assert operation.status == "failed" and record.status == "failed"
    assert await wallet_service.balance(alice, "USD") == 2000
    refund = await WalletTransaction.get(kind="refund")
    assert refund.amount_minor == 1500
    assert refund.idempotency_key == f"addon-refund:{record.code}:{code}"
    await site_tasks.refund_addon(operation)  # a second failure report moves nothing
    assert await WalletTransaction.filter(kind="refund").count() == 1
    lines = await InstallationLog.filter(installed_addon=record).values_list("line", flat=True)
    assert any("rolling back" in line for line in lines)
    page = await text(await alice_client.get(f"/panel/systems/{system.code}"))
    assert "Installation log" in page and "rolling back after failure" in page


async def test_an_add_on_of_another_package_is_refused(alice, alice_client, system, addon):
    await addon.packages.clear()
    response = await alice_client.post(
        "/addons/install_app", {"system": system.code, "addon": "analytics"}
    )
    assert response.status_code == 400
    assert "not offered with this system&#39;s package" in await text(response)


async def test_the_history_lists_the_system_tasks(alice_client, system, run_jobs):
    code = progress_code(await alice_client.post(f"/panel/systems/{system.code}/backups"))
    await finished(code, run_jobs)
    page = await text(await alice_client.get(f"/panel/systems/{system.code}"))
    history = page.split('id="history"', 1)[1]
    assert f'href="/operations/{code}"' in history and "Backup" in history and "Done" in history


async def test_an_inactive_system_cannot_be_backed_up(system):
    system.status = LaunchStatus.SUSPENDED
    with pytest.raises(ServiceError, match="not active"):
        await systems.back_up(system, None)
