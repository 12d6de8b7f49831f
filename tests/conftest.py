"""Shared fixtures.

Two tiers run the same tests: ``embedded`` (SQLite, in-memory broker) and ``pg`` (PostgreSQL
and Redis). Under ``CI=true`` the pg tier is required; elsewhere it is skipped, with the
reason, when PostgreSQL or Redis cannot be reached. Each test gets a fresh database cloned
from one migrated template (so migrations from empty run once per tier), a real SMTP server
on loopback, a Dramatiq worker whose actors run on the test's event loop, and three users:
alice (customer, owner), bob (support staff) and charlie (another customer: the outsider).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_DIR = Path(tempfile.mkdtemp(prefix="managely-tests-"))


def _load_test_env() -> None:
    for line in (ROOT / "tests" / "test.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            os.environ[key.strip()] = value.strip()
    os.environ["MANAGELY_DATA_DIR"] = str(RUN_DIR / "data")
    for key in ("MANAGELY_DATABASE_URL", "MANAGELY_REDIS_URL", "MANAGELY_SMTP_URL"):
        os.environ.pop(key, None)


_load_test_env()

import asyncpg  # noqa: E402
import dramatiq  # noqa: E402

# Imported here, not first at the end of a run by its pytest plugin's summary hook: rewriting
# hypothesis that late once hit CPython 3.11's "AST constructor recursion depth" error.
import hypothesis  # noqa: E402, F401
import pytest  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from dramatiq.common import iter_queue  # noqa: E402

from managely import db, queue, redis_client, schema, settings  # noqa: E402
from managely.embedded import start_worker, stop_worker  # noqa: E402
from managely.services import accounts, catalog, ratelimit, servers  # noqa: E402
from managely.web import create_app  # noqa: E402
from tests.hosts.sshd import SshServer, sshd_missing_reason  # noqa: E402
from tests.support import Browser, Inbox, start_smtp  # noqa: E402

CI = os.environ.get("CI") == "true"
PG_ADMIN_URL = os.environ.get(
    "MANAGELY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
# Parallel workers (pytest-xdist: gw0, gw1…) each get a Redis database of their own, so one
# worker's clean-up (rate-limit keys, the clock's leader lock) never touches another's.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URL = os.environ.get("MANAGELY_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - _WORKER}")
PASSWORD = "correct-horse-42"


def pytest_report_header(config) -> list[str]:
    return [
        f"managely tiers: embedded (SQLite + memory broker), pg ({PG_ADMIN_URL}, {REDIS_URL})"
        + ("; pg tier REQUIRED (CI=true)" if CI else "; pg tier skipped if unreachable")
    ]


def pytest_sessionfinish(session, exitstatus) -> None:
    shutil.rmtree(RUN_DIR, ignore_errors=True)


async def _pg_redis_problem() -> str | None:
    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at {PG_ADMIN_URL}: {exc}"
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        return f"Redis at {REDIS_URL}: {exc}"
    finally:
        await client.aclose()
    return None


class Tier:
    """Makes a fresh, migrated database per test for one tier."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.serial = 0
        tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = f"managely_tpl_{tag}"
        self.prefix = f"managely_t_{tag}"

    def url_for(self, name: str) -> str:
        if self.name == "pg":
            return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        return f"sqlite://{RUN_DIR / (name + '.sqlite3')}"

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_template(self) -> list[str]:
        if self.name == "pg":
            await self._admin(f'CREATE DATABASE "{self.template}"')
        return await schema.upgrade(self.url_for(self.template))

    async def new_database(self) -> str:
        self.serial += 1
        name = f"{self.prefix}_{self.serial}"
        if self.name == "pg":
            await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        else:
            shutil.copyfile(RUN_DIR / f"{self.template}.sqlite3", RUN_DIR / f"{name}.sqlite3")
        return self.url_for(name)

    async def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        if self.name == "pg":
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            Path(url.removeprefix("sqlite://")).unlink(missing_ok=True)

    async def drop_template(self) -> None:
        if self.name == "pg":
            await self._admin(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


def _forget_delayed(worker: dramatiq.Worker) -> None:
    """Drop the delayed messages a worker holds in memory until due (the broker no longer
    has them: flushing it does not reach them)."""
    for consumer in worker.consumers.values():
        for _ in iter_queue(consumer.delay_queue):
            consumer.delay_queue.task_done()


def _apply_env(**values: str | None) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    settings.reset()


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory):
    """A real OpenSSH sshd on loopback (own port, own keys) accepting ``client_key_pem``."""
    reason = sshd_missing_reason()
    if reason:
        # CI must exercise SSH for real; a developer machine may lack an sshd.
        if CI:
            pytest.fail(f"CI=true but the SSH tests cannot run: {reason}")
        pytest.skip(reason)
    server = SshServer(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp() -> Inbox:
    inbox, controller = start_smtp()
    yield inbox
    controller.stop()


@pytest.fixture(scope="session", params=["embedded", "pg"])
async def tier(request, smtp: Inbox):
    """One tier for the whole session; pytest runs every test of a tier together."""
    name = request.param
    if name == "pg":
        problem = await _pg_redis_problem()
        if problem:
            if CI:
                pytest.fail(f"CI requires the PostgreSQL + Redis tier: {problem}")
            pytest.skip(f"PostgreSQL + Redis tier not available here: {problem}")
    _apply_env(
        MANAGELY_SMTP_URL=smtp.url,
        MANAGELY_REDIS_URL=REDIS_URL if name == "pg" else None,
    )
    current = Tier(name)
    current.applied = await current.create_template()
    queue.setup_broker(settings.get_settings(), namespace=f"managely-test-{current.prefix}")
    worker = start_worker(__import__("asyncio").get_running_loop(), threads=2)
    current.worker = worker
    yield current
    await stop_worker(worker)
    await redis_client.close()
    await current.drop_template()


@pytest.fixture
async def database(tier: Tier, smtp: Inbox):
    url = await tier.new_database()
    _apply_env(MANAGELY_DATABASE_URL=url)
    await db.init(settings.get_settings())
    await accounts.ensure_roles()
    catalog.invalidate()  # a snapshot of the previous test's database must not show
    ratelimit.reset_memory()
    redis = redis_client.get_redis()
    if redis is not None:
        keys = [key async for key in redis.scan_iter("managely:rl:*")]
        if keys:
            await redis.delete(*keys)
    smtp.clear()
    yield tier
    try:
        await queue.in_flight.wait_idle()
    finally:
        # Retries and backoffs due later must not run against the next test's database (or in
        # the gap between two databases, where no ORM is set up).
        _forget_delayed(tier.worker)
        dramatiq.get_broker().flush_all()
    await servers.close_drivers()  # SSH connections belong to this test's servers
    await db.close()
    await tier.drop_database(url)


@pytest.fixture
def run_jobs():
    """Wait until every job sent so far (and the jobs they sent) has finished."""
    return queue.in_flight.wait_idle


@pytest.fixture
async def app(database):
    return create_app(settings.get_settings())


@pytest.fixture
def client(app) -> Browser:
    return Browser(app.test_client())


async def make_user(email: str, role: str = "customer", name: str | None = None):
    return await accounts.create_user(
        email=email, password=PASSWORD, name=name or email.split("@")[0].title(), role=role
    )


@pytest.fixture
async def alice(database):
    return await make_user("alice@example.com", "customer", "Alice Owner")


@pytest.fixture
async def bob(database):
    return await make_user("bob@example.com", "support", "Bob Staff")


@pytest.fixture
async def charlie(database):
    return await make_user("charlie@example.com", "customer", "Charlie Outsider")


@pytest.fixture
async def root(database):
    """A superadmin: every staff permission there is."""
    return await make_user("root@example.com", "superadmin", "Root Admin")


@pytest.fixture
async def root_client(app, root) -> Browser:
    return await _signed_in(app, root)


async def _signed_in(app, user) -> Browser:
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    return browser


@pytest.fixture
async def alice_client(app, alice) -> Browser:
    return await _signed_in(app, alice)


@pytest.fixture
async def bob_client(app, bob) -> Browser:
    return await _signed_in(app, bob)


@pytest.fixture
async def charlie_client(app, charlie) -> Browser:
    return await _signed_in(app, charlie)


def pytest_terminal_summary(terminalreporter) -> None:
    """Say how many tests ran on each tier, so a skipped tier cannot pass unnoticed."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            tier = "pg" if "[pg" in nodeid else "embedded" if "[embedded" in nodeid else "no-db"
            counts.setdefault(tier, {}).setdefault(outcome, 0)
            counts[tier][outcome] += 1
    terminalreporter.section("managely tiers")
    for tier in ("embedded", "pg", "no-db"):
        found = counts.get(tier, {})
        summary = ", ".join(f"{n} {o}" for o, n in sorted(found.items())) or "none ran"
        terminalreporter.write_line(f"{tier}: {summary}")
