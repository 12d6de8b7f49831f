"""From a click to a working Tryton site, for real.

One trytond serves a throw-away root for the whole session (bootstrapped by the real script,
with one package template). A customer submits the form, follows the SSE stream to 100 %,
reveals the credentials after typing their password, and those credentials log into the site
over Tryton's own JSON-RPC. It runs on both tiers, through the local driver and through a real
OpenSSH server on loopback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from managely.models.catalog import Package
from managely.models.launches import Launch, LaunchStatus
from managely.models.servers import ServerStatus
from managely.services import seed, servers
from managely.settings import get_settings
from tests.conftest import PASSWORD, ROOT
from tests.support import _free_port, fixed_port, text

SCRIPTS = ROOT / "ops" / "scripts"


@pytest.fixture(scope="session")
def tryton_root(tmp_path_factory) -> tuple[Path, int]:
    root, port = tmp_path_factory.mktemp("tryton") / "root", fixed_port()
    for script, *args in (
        (
            "bootstrap_server.sh",
            "--port",
            str(port),
            "--python",
            os.sys.executable,
            "--modules",
            "sale",
        ),
        ("build_template.sh", "--package", "starter", "--modules", "sale"),
    ):
        done = subprocess.run(
            ["bash", str(SCRIPTS / script), "--root", str(root), *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    yield root, port
    subprocess.run(
        ["bash", str(SCRIPTS / "stop_service.sh"), "--root", str(root)],
        capture_output=True,
        timeout=60,
    )


PG_CLUSTER = "postgresql://postgres@127.0.0.1:5432/"


@pytest.fixture(scope="session")
def pg_tryton_root(tmp_path_factory) -> tuple[Path, int]:
    """A root whose sites are PostgreSQL databases cloned with CREATE DATABASE ... TEMPLATE."""
    import asyncio

    from tests.conftest import CI, _pg_redis_problem

    problem = asyncio.run(_pg_redis_problem())
    if problem:
        if CI:
            pytest.fail(f"CI requires PostgreSQL for the PostgreSQL sites: {problem}")
        pytest.skip(problem)
    root, port = tmp_path_factory.mktemp("tryton-pg") / "root", fixed_port()
    steps = (
        (
            "bootstrap_server.sh",
            "--port",
            str(port),
            "--python",
            os.sys.executable,
            "--modules",
            "party",
            "--db-uri",
            PG_CLUSTER,
        ),
        ("build_template.sh", "--package", "starter", "--modules", "party"),
    )
    try:
        for script, *args in steps:
            done = subprocess.run(
                ["bash", str(SCRIPTS / script), "--root", str(root), *args],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, done.stdout + done.stderr
        yield root, port
    finally:
        subprocess.run(
            ["bash", str(SCRIPTS / "stop_service.sh"), "--root", str(root)],
            capture_output=True,
            timeout=60,
        )
        _drop_root_databases(root)


def _drop_root_databases(root: Path) -> None:
    record = root / "etc" / "database"
    if not record.exists():
        return
    prefix = dict(
        line.split("=", 1) for line in record.read_text().splitlines() if "=" in line
    ).get("prefix", "")
    if not re.fullmatch(r"m[0-9a-f]+_", prefix):
        return
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-Atq", "-c"]
    names = subprocess.run(
        [*psql, f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'"],  # noqa: S608 - prefix checked above
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    for name in names:
        subprocess.run(
            [*psql, f'ALTER DATABASE "{name}" IS_TEMPLATE false'], capture_output=True, timeout=60
        )
        subprocess.run(
            [*psql, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            capture_output=True,
            timeout=60,
        )


async def _platform(tryton_root, **server_options):
    await seed.seed_demo()
    # The session's template was built for "starter" with the sale module only.
    await Package.filter(slug="starter").update(tryton_modules=["sale"])
    root, port = tryton_root
    server = await servers.add_server(
        root=str(root), tryton_port=port, capacity=10, **server_options
    )
    server.status = ServerStatus.ACTIVE
    await server.save()
    return server


def tryton_login(url: str, login: str, password: str):
    request = urllib.request.Request(  # noqa: S310 (the site's http URL on loopback)
        url + "rpc/",
        method="POST",
        headers={"Content-Type": "application/json"},
        data=json.dumps(
            {"id": 1, "method": "common.db.login", "params": [login, {"password": password}, "en"]}
        ).encode(),
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # trytond answers a refused login with 401
        return {"error": error.code}


async def provision_through_the_panel(alice_client, subdomain: str) -> Launch:
    await alice_client.get("/panel/systems/new")  # the order form gives the browser its device id
    response = await alice_client.post(
        "/panel/systems", {"subdomain": subdomain, "package": "starter"}
    )
    assert response.status_code == 302, await text(response)
    progress_url = response.headers["Location"]
    assert progress_url.startswith("/operations/")
    page = await text(await alice_client.get(progress_url))
    assert 'sse-connect="' + progress_url + '/events"' in page

    # The SSE stream pushes the widget on every change and ends once the operation is final.
    # Asked for as a browser does, it goes on outside Quart's request after its first frame.
    events = await alice_client.get(
        progress_url + "/events", headers={"Accept": "text/event-stream"}
    )
    stream = await text(events)
    frames = [f for f in stream.split("\n\n") if f.startswith("event: progress")]
    seen = [int(p) for p in re.findall(r'data-progress="(\d+)"', stream)]
    assert seen == sorted(seen) and seen[-1] == 100, seen
    assert len(set(seen)) >= 3, "the bar moved through several values"
    assert "sse-connect" not in frames[-1], "the final widget stops listening"

    status = await (
        await alice_client.get(
            f"/system_creation_progress_status?code={progress_url.rsplit('/', 1)[1]}"
        )
    ).get_json()
    assert status["status"] == "succeeded" and status["progress"] == 100
    assert all(step["status"] == "succeeded" for step in status["steps"])
    return await Launch.get(subdomain=subdomain)


async def reveal_and_login(alice_client, launch: Launch) -> None:
    assert launch.status == LaunchStatus.ACTIVE
    page = await text(await alice_client.get(f"/panel/systems/{launch.code}"))
    assert launch.url in page
    wrong = await alice_client.post(
        f"/panel/systems/{launch.code}/credentials", {"password": "nope-nope-1"}
    )
    assert wrong.status_code == 400
    shown = await text(
        await alice_client.post(f"/panel/systems/{launch.code}/credentials", {"password": PASSWORD})
    )
    login, password = re.findall(r"<code>([^<]+)</code>", shown)
    answer = tryton_login(launch.url, login, password)
    assert "result" in answer and answer["result"][0] >= 1, answer
    assert tryton_login(launch.url, login, password + "x") == {"error": 401}


async def test_a_customer_gets_a_working_tryton_site_through_the_local_driver(
    tryton_root, alice, alice_client
):
    await _platform(tryton_root, name="local-prov", host="127.0.0.1", driver="local")
    launch = await provision_through_the_panel(alice_client, "acme-local")
    await reveal_and_login(alice_client, launch)


async def test_a_customer_gets_a_working_tryton_site_through_ssh(
    tryton_root, ssh_server, alice, alice_client
):
    await _platform(
        tryton_root,
        name="ssh-prov",
        host=ssh_server.host,
        driver="ssh",
        port=ssh_server.port,
        ssh_user=ssh_server.user,
        private_key_pem=ssh_server.client_key_pem,
        host_key=ssh_server.host_key_line,
    )
    launch = await provision_through_the_panel(alice_client, "acme-ssh")
    await reveal_and_login(alice_client, launch)


async def test_an_unreachable_server_fails_readably_and_leaves_no_site(
    tryton_root, alice, alice_client
):
    from managely.hosts.ssh import generate_keypair

    private, _ = generate_keypair()
    await _platform(
        tryton_root,
        name="gone",
        host="127.0.0.1",
        driver="ssh",
        port=_free_port(),
        private_key_pem=private,
        host_key=None,
    )
    response = await alice_client.post(
        "/panel/systems", {"subdomain": "acme-gone", "package": "starter"}
    )
    stream = await text(await alice_client.get(response.headers["Location"] + "/events"))
    assert "We could not finish setting up your system" in stream
    launch = await Launch.get(subdomain="acme-gone")
    assert launch.status == LaunchStatus.FAILED
    assert not (tryton_root[0] / "db" / f"{launch.site_name}.sqlite").exists()


async def _template_built(server) -> None:
    """The session's template exists on this root: record it the way a bootstrap would."""
    from managely.models.operations import OperationKind, OperationStatus, SaaSOperation

    await SaaSOperation.create(
        kind=OperationKind.BOOTSTRAP_SERVER,
        server=server,
        status=OperationStatus.SUCCEEDED,
        params={"variant": "template", "package": "starter"},
    )


async def test_a_trial_claims_a_warm_standby_and_the_pool_refills(
    tryton_root, alice, alice_client, run_jobs
):
    from managely.services import launches

    server = await _platform(tryton_root, name="pool-host", host="127.0.0.1", driver="local")
    await _template_built(server)
    assert await launches.refill_pool(size=1) == 1
    await run_jobs()
    standby = await Launch.get(is_standby=True)
    assert standby.status == LaunchStatus.ACTIVE and standby.user_id is None
    _, old_password = await launches.credentials_of(standby)

    response = await alice_client.post(
        "/panel/systems", {"subdomain": "acme-warm", "package": "starter"}
    )
    progress_url = response.headers["Location"]
    stream = await text(await alice_client.get(progress_url + "/events"))
    assert 'data-progress="100"' in stream
    launch = await Launch.get(subdomain="acme-warm")
    assert launch.id == standby.id, "the trial is the standby site, claimed"
    assert launch.site_name == standby.site_name and not launch.is_standby
    await reveal_and_login(alice_client, launch)
    assert tryton_login(launch.url, "admin", old_password) == {"error": 401}

    await run_jobs()  # the claim queued a refill up to the configured size
    refilled = await Launch.filter(is_standby=True, status=LaunchStatus.ACTIVE).count()
    assert refilled == get_settings().warm_pool_size == 2


async def test_a_backup_records_its_checksum_and_a_delete_frees_the_name(
    tryton_root, alice, alice_client, charlie_client, run_jobs
):
    import hashlib

    from managely.models.servers import Server
    from managely.services import site_tasks

    await _platform(tryton_root, name="task-host", host="127.0.0.1", driver="local")
    launch = await provision_through_the_panel(alice_client, "acme-tasks")
    backup = await site_tasks.back_up(launch)
    await run_jobs()
    await backup.refresh_from_db()
    assert backup.status == "succeeded", backup.error
    archive = Path(backup.path)
    assert archive.is_file() and backup.size_bytes == archive.stat().st_size
    assert backup.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()

    database = tryton_root[0] / "db" / f"{launch.site_name}.sqlite"
    assert database.exists()
    await site_tasks.delete_system(launch)
    await run_jobs()
    await launch.refresh_from_db()
    assert launch.status == LaunchStatus.DELETED and not database.exists()
    assert (await Server.get(name="task-host")).sites_count == 0
    assert (await alice_client.get(f"/panel/systems/{launch.code}")).status_code == 404
    await charlie_client.get("/panel/systems/new")
    response = await charlie_client.post(
        "/panel/systems", {"subdomain": "acme-tasks", "package": "starter"}
    )
    assert response.status_code == 302, "the name is free again"
    await run_jobs()


HOSTILE_DOMAINS = [
    "erp.example.com;reboot",
    "$(id).example.com",
    "`id`.example.com",
    "erp.example.com\nevil.com",
    "erp..example.com",
    "../etc/passwd",
    "еrp.example.com",  # Cyrillic е
    "ｅｒｐ.example.com",  # full-width
    "a" * 64 + ".example.com",
    ("abc." * 64) + "com",
    "localhost",
    "erp.localhost",
    "-erp.example.com",
    "erp.example.123",
    "",
]


async def test_a_custom_domain_gets_mapped_then_a_certificate_and_a_restore_undoes_changes(
    tryton_root, alice, alice_client, charlie_client, run_jobs
):
    import sqlite3

    from managely.models.launches import Certificate, CustomDomain
    from managely.models.operations import SaaSOperation
    from managely.services import site_tasks
    from managely.services.errors import ServiceError

    await _platform(tryton_root, name="domain-host", host="127.0.0.1", driver="local")
    launch = await provision_through_the_panel(alice_client, "acme-domain")
    before = await SaaSOperation.all().count()
    for hostile in HOSTILE_DOMAINS:
        with pytest.raises(ServiceError):
            await site_tasks.change_domain(launch, hostile)
    assert await SaaSOperation.all().count() == before, "no operation for a hostile domain"
    assert await CustomDomain.all().count() == 0

    # The Tryton root outlives a tier's database: each tier maps a domain of its own.
    domain = f"erp.{launch.site_name}.example.com"
    await site_tasks.change_domain(launch, domain.upper())
    await run_jobs()
    await launch.refresh_from_db()
    assert launch.custom_domain == domain
    record = await CustomDomain.get(launch=launch)
    assert record.status == "active"
    certificate = await Certificate.get(launch=launch)
    assert certificate.status == "issued" and certificate.kind == "self_signed"
    assert 80 <= (certificate.expires_at - certificate.issued_at).days <= 90
    root = tryton_root[0]
    assert (root / "certs" / domain / "fullchain.pem").is_file()
    assert f"{domain} {launch.site_name}" in (root / "etc" / "domains.map").read_text()

    # Another system cannot take the same domain (another customer's: one trial each).
    other = await provision_through_the_panel(charlie_client, "acme-other")
    with pytest.raises(ServiceError, match="already used"):
        await site_tasks.change_domain(other, domain)

    # Restore: a change made after the backup is gone again.
    database = root / "db" / f"{launch.site_name}.sqlite"
    backup = await site_tasks.back_up(launch)
    await run_jobs()
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE res_user SET name = 'Changed after backup' WHERE login='admin'")
    operation = await site_tasks.restore(launch)
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == "succeeded", operation.error_detail
    assert operation.params == {"backup": backup.id}
    with sqlite3.connect(database) as connection:
        (name,) = connection.execute("SELECT name FROM res_user WHERE login='admin'").fetchone()
    assert name != "Changed after backup"
    await reveal_and_login(alice_client, launch)


def tryton_call(url: str, login: str, password: str, method: str, params: list):
    """Log in, then call ``method`` with the session, as the Tryton client does."""
    import base64

    answer = tryton_login(url, login, password)
    user_id, session = answer["result"][:2]
    token = base64.b64encode(f"{login}:{user_id}:{session}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 (the site's http URL on loopback)
        url + "rpc/",
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Session {token}"},
        data=json.dumps({"id": 2, "method": method, "params": params}).encode(),
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())


async def test_an_add_on_is_activated_on_a_running_site(tryton_root, alice, alice_client, run_jobs):
    from managely.models.addons import AddonApp, UserInstalledAddon
    from managely.services import launches, site_tasks

    await _platform(tryton_root, name="addon-host", host="127.0.0.1", driver="local")
    addon = await AddonApp.create(
        slug="analytics-test",
        name_en="Analytics",
        name_ar="التحليلات",
        tryton_module="analytic_account",
        price_minor=1000,
        currency="USD",
    )
    await addon.packages.add(await Package.get(slug="starter"))
    launch = await provision_through_the_panel(alice_client, "acme-addon")
    login, password = await launches.credentials_of(launch)
    method = "model.analytic_account.account.search"
    before = tryton_call(launch.url, login, password, method, [[], 0, None, None, {}])
    assert "error" in before, "the module is not active yet"

    record = await site_tasks.install_addon(launch, addon)
    await run_jobs()
    await record.refresh_from_db()
    assert record.status == "installed" and record.installed_at is not None
    after = tryton_call(launch.url, login, password, method, [[], 0, None, None, {}])
    assert after.get("result") == [], after
    with pytest.raises(Exception, match="already installed"):
        await site_tasks.install_addon(launch, addon)
    assert await UserInstalledAddon.filter(launch=launch).count() == 1


async def test_a_customer_gets_a_working_postgresql_site_through_ssh(
    pg_tryton_root, ssh_server, alice, alice_client
):
    """The same click, on a server whose sites are PostgreSQL databases."""
    server = await _platform(
        pg_tryton_root,
        name="ssh-pg",
        host=ssh_server.host,
        driver="ssh",
        port=ssh_server.port,
        ssh_user=ssh_server.user,
        private_key_pem=ssh_server.client_key_pem,
        host_key=ssh_server.host_key_line,
        db_backend="postgres",
        db_uri=PG_CLUSTER,
    )
    launch = await provision_through_the_panel(alice_client, "acme-pg")
    assert launch.db_backend == "postgres" and launch.server_id == server.id
    assert not (pg_tryton_root[0] / "db" / f"{launch.site_name}.sqlite").exists()
    await reveal_and_login(alice_client, launch)


async def test_a_postgresql_server_is_bootstrapped_with_its_cluster(database):
    from managely.models.operations import SaaSOperation
    from managely.services.errors import ValidationError

    with pytest.raises(ValidationError):
        await servers.add_server(
            name="pg-bad",
            host="10.0.0.5",
            driver="local",
            db_backend="postgres",
            db_uri="postgresql://u:secret@db/",
        )
    server = await servers.add_server(
        name="pg-ok", host="10.0.0.5", driver="local", db_backend="postgres", db_uri=PG_CLUSTER
    )
    operation = await SaaSOperation.create(kind="bootstrap_server", server=server)
    await operation.fetch_related("server")
    args = await servers._bootstrap_args(operation)
    assert args[args.index("--db-uri") + 1] == PG_CLUSTER


async def test_a_visitor_signs_up_starts_a_trial_and_finds_the_system_in_the_panel(
    tryton_root, client, smtp, run_jobs
):
    """The whole front door: catalog → sign-up → emailed code → trial → progress → panel."""
    from tests.web.test_accounts import SIGNUP, signup_and_code

    await _platform(tryton_root, name="front-door", host="127.0.0.1", driver="local")
    home = await text(await client.get("/"))
    assert "Starter" in home and "mode=trial" in home
    code = await signup_and_code(client, smtp, run_jobs)
    assert (await client.post("/verify", {"code": code})).status_code == 302
    login = await client.post("/login", {"email": SIGNUP["email"], "password": PASSWORD})
    assert login.headers["Location"] == "/panel/"
    form = await text(await client.get("/panel/systems/new?package=starter&mode=trial"))
    assert 'id="price-summary"' in form

    launch = await provision_through_the_panel(client, "dana-erp")
    assert launch.is_trial and launch.status == LaunchStatus.ACTIVE
    panel = await text(await client.get("/panel/"))
    assert "dana-erp" in panel and f"/panel/systems/{launch.code}" in panel
    await reveal_and_login(client, launch)


async def test_a_customer_buys_an_add_on_on_the_system_page_and_its_module_is_active(
    tryton_root, alice, alice_client, run_jobs
):
    """The marketplace for real: POST /addons/install_app pays from the wallet, and the
    module answers over the site's JSON-RPC once the progress stream reaches 100 %."""
    from managely.models.addons import AddonApp, UserInstalledAddon
    from managely.services import launches, wallet
    from tests.subscriptions_support import fund

    await _platform(tryton_root, name="shop-host", host="127.0.0.1", driver="local")
    addon = await AddonApp.create(
        slug="analytics-shop",
        name_en="Analytic accounting",
        name_ar="المحاسبة التحليلية",
        tryton_module="analytic_account",
        price_minor=1200,
        currency="USD",
    )
    await addon.packages.add(await Package.get(slug="starter"))
    launch = await provision_through_the_panel(alice_client, "acme-shop")
    page = await text(await alice_client.get(f"/panel/systems/{launch.code}"))
    assert "Analytic accounting" in page and "/addons/install_app" in page

    await fund(alice, 1200)
    response = await alice_client.post(
        "/addons/install_app", {"system": launch.code, "addon": addon.slug}
    )
    assert response.status_code == 302, await text(response)
    progress_url = response.headers["Location"]
    stream = await text(await alice_client.get(progress_url + "/events"))
    assert 'data-progress="100"' in stream, stream[-2000:]
    await run_jobs()
    assert await wallet.balance(alice, "USD") == 0
    record = await UserInstalledAddon.get(launch=launch)
    assert record.status == "installed" and record.installed_at is not None

    login, password = await launches.credentials_of(launch)
    modules = tryton_call(
        launch.url,
        login,
        password,
        "model.ir.module.search_read",
        [[["name", "=", "analytic_account"]], 0, None, None, ["state"], {}],
    )
    assert [m["state"] for m in modules["result"]] == ["activated"], modules
    accounts = tryton_call(
        launch.url,
        login,
        password,
        "model.analytic_account.account.search",
        [[], 0, None, None, {}],
    )
    assert accounts.get("result") == [], accounts
    page = await text(await alice_client.get(f"/panel/systems/{launch.code}"))
    assert "Installed" in page and "Removal is not available" in page


# --- the synthetic trial check (issue 8): the same path as a customer's trial, end to end ---


async def test_the_synthetic_check_launches_logs_in_and_deletes_a_trial(
    tryton_root, database, run_jobs, monkeypatch
):
    from managely.models.platform import Alert, SyntheticCheck
    from managely.services import synthetic

    monkeypatch.setattr(synthetic, "POLL_S", 0.05)
    await _platform(tryton_root, name="synthetic-host", host="127.0.0.1", driver="local")
    check = await synthetic.run_check()
    await run_jobs()
    assert check.ok and check.stage == "done" and check.error == ""
    assert check.duration_ms > 0 and check.finished_at is not None
    launch = await Launch.get(code=check.launch_code).prefetch_related("user")
    assert launch.status == LaunchStatus.DELETED and launch.is_trial
    assert launch.user.email == synthetic.account_email()
    assert not (tryton_root[0] / "db" / f"{launch.site_name}.sqlite").exists()
    assert await SyntheticCheck.all().count() == 1
    assert not await Alert.exists(resolved_at=None)


async def test_a_synthetic_check_whose_login_fails_alerts_staff_and_still_deletes_the_site(
    tryton_root, database, run_jobs, smtp, monkeypatch
):
    from managely.models.platform import Alert
    from managely.services import synthetic

    async def wrong_password(url: str, login: str, password: str) -> None:
        await synthetic.tryton_login(url, login, password + "-wrong")

    monkeypatch.setattr(synthetic, "POLL_S", 0.05)
    await _platform(tryton_root, name="synthetic-fail", host="127.0.0.1", driver="local")
    check = await synthetic.run_check(login=wrong_password)
    await run_jobs()
    assert not check.ok and check.stage == "login"
    assert "refused the login (HTTP 401)" in check.error
    launch = await Launch.get(code=check.launch_code)
    assert launch.status == LaunchStatus.DELETED
    alert = await Alert.get(key=synthetic.ALERT_FAILED, resolved_at=None)
    assert alert.subject == "The synthetic trial check failed at login"
    staff = smtp.to(get_settings().staff_email)  # no operations staff yet: the staff address
    assert [m["Subject"] for m in staff] == [
        "Managely alert: The synthetic trial check failed at login"
    ]
