"""Faults, with real processes: every operation still ends cleanly.

Each test runs the Procfile's worker (``dramatiq managely.jobs``) as a subprocess on a fresh
PostgreSQL database and a redis-server of its own, provisions real Tryton sites on a throw-away
root, and breaks something for real: the worker is killed with SIGKILL half-way, Redis restarts
and loses the queue, the server is unreachable, the SSH connection drops in the middle of the
script. Every operation then ends succeeded (after a retry) or failed with a message a customer
can read, and the root holds exactly the sites that succeeded: none half-made, none twice.

The "web" side (seed, a customer's launch, a staff retry) and the clock's tick run as short
subprocesses with the same environment, so this process shares no state with them: it reads
the database, looks at files and processes, and sends signals.

To make "mid-operation" deterministic, trytond is stopped (SIGSTOP) before a launch: the
creation script then waits in its ``load_site`` step, after it cloned the database and wrote
the site folder, until the fault is injected. A script failing at each of its steps (with its
rollback, then a retry) is covered in tests/services/test_operations.py; the ssh driver's own
handling of a dropped or silent connection in tests/hosts/test_ssh.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from bench import renewal_data

from managely.services import launches as _launches  # noqa: F401  (registers "provision")
from managely.services import operations
from tests.conftest import CI, PASSWORD, PG_ADMIN_URL, ROOT
from tests.hosts.sshd import _children_by_parent
from tests.support import _free_port, fixed_port
from tests.test_provisioning import tryton_login

BIN = Path(sys.executable).parent
SCRIPTS = ROOT / "ops" / "scripts"
CREATE_SCRIPT = "create_site_in_isolated.sh"
DEADLINE_S = 45.0

# The control process: what the web app (a launch), staff (a retry) and the clock (a tick) do,
# through the same services, in a process of its own. argv[1]: a JSON list of [command, kwargs].
CONTROL = f"""
import asyncio, json, sys
from datetime import UTC, datetime

async def main(steps):
    import managely.jobs  # the actors, the clock's schedules, every operation kind
    from managely import db
    from managely.jobs import clock
    from managely.models.accounts import User
    from managely.models.catalog import Package
    from managely.models.launches import Launch
    from managely.models.operations import SaaSOperation
    from managely.models.servers import ServerStatus
    from managely.services import accounts, launches, operations, seed, servers
    from managely.settings import get_settings

    async def setup():
        await seed.seed_demo()
        # The root's template is built for "starter" with the sale module only.
        await Package.filter(slug="starter").update(tryton_modules=["sale"])
        await accounts.create_user(email="alice@example.com", password={PASSWORD!r}, name="Alice")

    async def add_server(**options):
        server = await servers.add_server(capacity=10, **options)
        server.status = ServerStatus.ACTIVE
        await server.save()
        return server.id

    async def launch(subdomain):
        user = await User.get(email="alice@example.com")
        made, operation = await launches.create_system(
            user, package_slug="starter", subdomain=subdomain
        )
        return {{"launch": made.id, "site": made.site_name, "operation": operation.id}}

    async def tick(actor_name):
        return await clock.fire(clock.SCHEDULES[actor_name])

    async def retry(operation_id):
        await operations.retry(await SaaSOperation.get(id=operation_id))

    async def password(launch_id):
        return (await launches.credentials_of(await Launch.get(id=launch_id)))[1]

    async def seed_renewals(count, start, due):
        from bench import renewal_data
        await renewal_data.load(
            get_settings().database_url, count,
            datetime.fromisoformat(start), datetime.fromisoformat(due),
        )

    async def due_ticks():
        # Each schedule's tick in progress, and whether a clock has sent it.
        from managely.models.platform import ClockRun
        now = datetime.now(UTC)
        return {{
            name: await ClockRun.exists(task=name, tick=schedule.tick_at(now))
            for name, schedule in clock.SCHEDULES.items()
        }}

    async def send(actor_name):
        import dramatiq
        dramatiq.get_broker().get_actor(actor_name).send()

    commands = dict(
        setup=setup, add_server=add_server, launch=launch, tick=tick, retry=retry,
        password=password, seed_renewals=seed_renewals, send=send, due_ticks=due_ticks,
    )
    await db.init(get_settings())
    try:
        return [await commands[name](**kwargs) for name, kwargs in steps]
    finally:
        await db.close()

print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
"""


# --- processes ------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (PID 1 here may never reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    children, found, pending = _children_by_parent(), [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _leads(pid: int) -> bool:
    """``pid`` leads a session of its own (the local driver starts each script so)."""
    try:
        return os.getsid(pid) == pid
    except ProcessLookupError:
        return False


def _processes_of(site: str) -> list[int]:
    """Live processes working on ``site`` (its creation script and what that started)."""
    return [
        int(entry.name)
        for entry in Path("/proc").glob("[0-9]*")
        if int(entry.name) != os.getpid() and site in _cmdline(int(entry.name))
        if _alive(int(entry.name))
    ]


def _kill(pid: int, sig: signal.Signals = signal.SIGKILL, *, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        (os.killpg if group else os.kill)(pid, sig)


async def _until(check: Callable[[], object], what: str, explain: Callable[[], str]):
    """Poll ``check`` (sync or async) until it returns something truthy; fail with
    ``explain()`` when that takes too long."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {DEADLINE_S:g} s\n{explain()}")
        await asyncio.sleep(0.1)


async def _spawn(command: list[str], env: dict, log: Path) -> asyncio.subprocess.Process:
    """Start ``command`` in a session of its own (so its whole group can be signalled)."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        return await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        os.close(fd)


async def _reap(process: asyncio.subprocess.Process, grace: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), grace)
    if process.returncode is None:
        _kill(process.pid, group=True)
        await process.wait()


# --- the Tryton root ------------------------------------------------------------------------


@dataclass
class TrytonRoot:
    root: Path
    port: int

    def _run(self, script: str, *args: str) -> None:
        done = subprocess.run(
            ["bash", str(SCRIPTS / script), "--root", str(self.root), *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def pid(self) -> int:
        return int((self.root / "run" / "trytond.pid").read_text())

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """trytond stopped: a creation script waits in load_site until this ends."""
        pid = self.pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def sites(self) -> set[str]:
        """Every site with anything on disk: a folder, a database, a clone being made."""
        db = self.root / "db"
        names = {p.name for p in (self.root / "sites").glob("*")}
        names |= {p.name.removesuffix(".sqlite") for p in db.glob("*.sqlite")}
        names |= {p.name[1:].partition(".clone")[0] for p in db.glob(".*.clone*")}
        return names

    def state(self, site: str) -> str:
        env = self.root / "sites" / site / "site.env"
        lines = env.read_text().splitlines() if env.exists() else []
        return next((line[6:] for line in lines if line.startswith("state=")), "")

    def assert_ready(self, site: str) -> None:
        assert self.state(site) == "ready"
        assert (self.root / "db" / f"{site}.sqlite").is_file()


@pytest.fixture(scope="module")
def tryton(tmp_path_factory) -> Iterator[TrytonRoot]:
    """One trytond serving a throw-away root with the "starter" template (~15 s to build)."""
    root = TrytonRoot(tmp_path_factory.mktemp("faults") / "root", fixed_port())
    root._run("bootstrap_server.sh", "--port", str(root.port), "--python", sys.executable)
    try:
        root._run("build_template.sh", "--package", "starter", "--modules", "sale")
        yield root
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(root.pid(), signal.SIGCONT)
        root._run("stop_service.sh")


# --- the platform: PostgreSQL, a redis-server, worker processes -----------------------------


async def _services_problem() -> str | None:
    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at {PG_ADMIN_URL}: {exc}"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    return None


def _env(database: str, redis_port: int, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MANAGELY_")}
    env.update(
        MANAGELY_ENV="production",
        MANAGELY_SECRET_KEY="faults-test-secret-0123456789abcdefghijklmnop",
        MANAGELY_DATABASE_URL=PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}",
        MANAGELY_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        MANAGELY_SMTP_URL="console://",
        MANAGELY_DATA_DIR=str(data_dir),
        MANAGELY_PUBLIC_URL="http://127.0.0.1",
        # A worker whose broker went away tries again after 0.2 s (3 s by default).
        dramatiq_restart_delay="200",
    )
    return env


async def _control(env: dict, *steps: tuple[str, dict], check: bool = True) -> list | None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CONTROL,
        json.dumps(steps),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    if process.returncode != 0:
        assert not check, f"control {steps} failed:\n{err.decode()}"
        return None
    return json.loads(out)


@pytest.fixture(scope="module")
async def template_db(tmp_path_factory) -> AsyncIterator[str]:
    """A database migrated by the release process (`managely migrate`) and seeded, once."""
    problem = await _services_problem()
    if problem:
        if CI:
            pytest.fail(f"CI requires PostgreSQL and redis-server for the fault tests: {problem}")
        pytest.skip(problem)
    name = f"managely_faults_tpl_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        # Nothing listens on this Redis port: setting up must not need the broker.
        env = _env(name, _free_port(), tmp_path_factory.mktemp("faults-data"))
        release = await asyncio.create_subprocess_exec(
            str(BIN / "managely"),
            "migrate",
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(release.communicate(), 120)
        assert release.returncode == 0, out.decode()
        await _control(env, ("setup", {}))
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    log: Path


@dataclass
class Platform:
    """One test's control plane: its database, its redis-server, its worker processes."""

    tmp: Path
    env: dict
    db: asyncpg.Connection
    redis_port: int
    redis: asyncio.subprocess.Process | None = None
    workers: list[Worker] = field(default_factory=list)

    # Redis ---------------------------------------------------------------------------------

    async def start_redis(self) -> None:
        """A redis-server without persistence: what it holds is lost when it stops."""
        self.redis = await _spawn(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.tmp)],
            self.env,
            self.tmp / "redis.log",
        )

        async def answers() -> bool:
            try:
                async with self.broker() as client:
                    return await client.ping()
            except (OSError, aioredis.RedisError):
                return False

        await _until(answers, "answering", lambda: (self.tmp / "redis.log").read_text())

    async def crash_redis(self) -> None:
        assert self.redis is not None
        self.redis.kill()
        await self.redis.wait()
        self.redis = None

    @contextlib.asynccontextmanager
    async def broker(self) -> AsyncIterator[aioredis.Redis]:
        client = aioredis.Redis.from_url(self.env["MANAGELY_REDIS_URL"])
        try:
            yield client
        finally:
            await client.aclose()

    async def queued_messages(self) -> int:
        async with self.broker() as client:
            return await client.hlen("managely:operations.msgs")

    # Workers -------------------------------------------------------------------------------

    async def start_worker(self) -> Worker:
        """The Procfile's worker process: ``dramatiq managely.jobs``."""
        log = self.tmp / f"worker-{len(self.workers) + 1}.log"
        command = [str(BIN / "dramatiq"), "managely.jobs", "--processes", "1", "--threads", "2"]
        worker = Worker(await _spawn(command, self.env, log), log)
        self.workers.append(worker)
        return worker

    async def crash(self, worker: Worker) -> list[int]:
        """The worker's machine dies: SIGKILL the worker and every script it started.

        The local driver starts each script in a session of its own, so killing the worker's
        process group alone would leave the script running, and finishing the site behind the
        platform's back. Returns the scripts that were running.
        """
        tree = _descendants(worker.process.pid)
        scripts = [pid for pid in tree if CREATE_SCRIPT in _cmdline(pid) and _leads(pid)]
        _kill(worker.process.pid, group=True)
        for pid in scripts:
            _kill(pid, group=True)
        for pid in tree:
            _kill(pid)
        await worker.process.wait()
        await _until(lambda: not any(map(_alive, tree)), "dead", lambda: str(tree))
        return scripts

    async def stop_workers(self) -> None:
        """Every worker goes, with whatever it started (the test is over: no need for grace)."""
        for worker in self.workers:
            tree = _descendants(worker.process.pid)
            _kill(worker.process.pid, group=True)
            for pid in tree:
                _kill(pid, group=True)
                _kill(pid)
            await worker.process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {w.log.name}\n{w.log.read_text()[-6000:]}" for w in self.workers)

    # The control plane ---------------------------------------------------------------------

    async def control(self, *steps: tuple[str, dict], check: bool = True) -> list | None:
        return await _control(self.env, *steps, check=check)

    async def launch(self, *subdomains: str, server: tuple[str, dict] | None = None) -> list:
        """A customer launches each subdomain (on a server added first, if given)."""
        steps = [("launch", {"subdomain": subdomain}) for subdomain in subdomains]
        done = await self.control(*([server] if server else []), *steps)
        return done[-len(subdomains) :]

    async def tick(self, actor_name: str = "operations.reclaim") -> None:
        """What `managely clock` does at each tick of this schedule: send its message."""
        assert (await self.control(("tick", {"actor_name": actor_name}))) == [True]

    async def operation(self, operation_id: int) -> asyncpg.Record:
        return await self.db.fetchrow("SELECT * FROM saas_operations WHERE id = $1", operation_id)

    async def launch_row(self, launch_id: int) -> asyncpg.Record:
        return await self.db.fetchrow("SELECT * FROM launches WHERE id = $1", launch_id)

    async def until_step(self, operation_id: int, step: str) -> None:
        async def there() -> bool:
            row = await self.operation(operation_id)
            assert row["status"] in ("queued", "running"), dict(row)
            return row["status"] == "running" and row["current_step"] == step

        await _until(there, f"running {step}", self.logs)

    async def until_final(self, operation_id: int) -> asyncpg.Record:
        async def final() -> asyncpg.Record | None:
            row = await self.operation(operation_id)
            return row if row["status"] in ("succeeded", "failed", "cancelled") else None

        return await _until(final, "finished", self.logs)

    async def charges(self) -> int:
        return await self.db.fetchval(
            "SELECT count(*) FROM wallet_transactions WHERE idempotency_key LIKE 'renew:%'"
        )

    async def cut_database_connections(self) -> int:
        """Every other connection to this database ends, as when PostgreSQL restarts or a
        pooler drops them: the workers' pools hold dead connections from then on."""
        return await self.db.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()) AS cut"
        )

    async def logged(self, operation_id: int) -> list[str]:
        rows = await self.db.fetch(
            "SELECT line FROM operation_logs WHERE operation_id = $1 ORDER BY seq", operation_id
        )
        return [row["line"] for row in rows]

    async def logs_in(self, launch: dict, tryton: TrytonRoot) -> None:
        """The site answers a real Tryton login with the customer's credentials."""
        row = await self.launch_row(launch["launch"])
        assert row["url"] == f"http://127.0.0.1:{tryton.port}/{launch['site']}/"
        (password,) = await self.control(("password", {"launch_id": launch["launch"]}))
        answer = await asyncio.to_thread(tryton_login, row["url"], "admin", password)
        assert "result" in answer, answer


@pytest.fixture
async def platform(template_db, tmp_path) -> AsyncIterator[Platform]:
    name = f"managely_faults_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    redis_port = _free_port()
    env = _env(name, redis_port, tmp_path / "data")
    conn = await asyncpg.connect(env["MANAGELY_DATABASE_URL"])
    platform = Platform(tmp_path, env, conn, redis_port)
    try:
        await platform.start_redis()
        yield platform
    finally:
        await platform.stop_workers()
        if platform.redis is not None:
            platform.redis.terminate()
            await _reap(platform.redis, 10)
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def provision_failure() -> str:
    return str(operations.SPECS["provision"].failure_message)


def local_server(tryton: TrytonRoot) -> tuple[str, dict]:
    return (
        "add_server",
        {
            "name": "local-faults",
            "host": "127.0.0.1",
            "driver": "local",
            "root": str(tryton.root),
            "tryton_port": tryton.port,
        },
    )


# --- the faults -----------------------------------------------------------------------------


async def test_a_worker_killed_mid_provisioning_is_reclaimed_then_retried_or_rolled_back(
    platform, tryton
):
    """SIGKILL on the worker (and its scripts) in load_site, with two launches in flight: the
    clock's reclaim runs one again on a fresh worker (one site, working), and fails the other,
    out of attempts, with a readable message after its rollback removed the half-made site."""
    before = tryton.sites()
    first = await platform.start_worker()
    with tryton.frozen():
        kept, dropped = await platform.launch(
            "acme-kept", "acme-dropped", server=local_server(tryton)
        )
        for launch in (kept, dropped):
            await platform.until_step(launch["operation"], "load_site")
        scripts = await platform.crash(first)
        assert len(scripts) == 2, "both creation scripts were running"
        assert tryton.sites() - before == {kept["site"], dropped["site"]}
        assert {tryton.state(kept["site"]), tryton.state(dropped["site"])} == {"creating"}
        assert not _processes_of(kept["site"]) and not _processes_of(dropped["site"])

    for launch in (kept, dropped):
        row = await platform.operation(launch["operation"])
        assert (row["status"], row["attempts"]) == ("running", 1), "nobody knows it died yet"
    # The dropped one has used its last attempt; both leases run out (rather than waiting the
    # step timeout and a minute), then the clock ticks and a fresh worker comes up.
    await platform.db.execute(
        "UPDATE saas_operations SET max_attempts = 1 WHERE id = $1", dropped["operation"]
    )
    await platform.db.execute(
        "UPDATE saas_operations SET lease_until = now() - interval '1 second'"
        " WHERE status = 'running'"
    )
    await platform.start_worker()
    await platform.tick()

    done = await platform.until_final(kept["operation"])
    assert (done["status"], done["attempts"]) == ("succeeded", 2), done["error_detail"]
    assert "worker lost; running again from the start" in await platform.logged(done["id"])
    assert (await platform.launch_row(kept["launch"]))["status"] == "active"
    tryton.assert_ready(kept["site"])
    await platform.logs_in(kept, tryton)

    failed = await platform.until_final(dropped["operation"])
    assert failed["status"] == "failed"
    assert failed["error_message"] == provision_failure()
    assert failed["error_detail"] == "load_site: worker lost (attempts: 1)"
    assert (await platform.launch_row(dropped["launch"]))["status"] == "failed"

    assert tryton.sites() - before == {kept["site"]}, "no half-made site, none twice"
    assert await platform.db.fetchval("SELECT count(*) FROM launches") == 2


async def test_launches_whose_messages_redis_lost_are_sent_again_by_the_clock(platform, tryton):
    """One message is lost when Redis restarts without persistence, another is never sent
    because Redis is down; the worker, started while Redis is down, connects when it is back,
    and the clock's sweep sends both operations again: each makes exactly one site."""
    before = tryton.sites()
    (lost,) = await platform.launch("acme-lost", server=local_server(tryton))
    assert await platform.queued_messages() == 1
    await platform.crash_redis()
    worker = await platform.start_worker()
    # The web process commits the launch, then cannot send its message.
    await platform.control(("launch", {"subdomain": "acme-unsent"}), check=False)
    row = await platform.db.fetchrow(
        "SELECT l.id AS launch, l.site_name AS site, o.id AS operation FROM launches l"
        " JOIN saas_operations o ON o.launch_id = l.id WHERE l.subdomain = 'acme-unsent'"
    )
    assert row is not None, "the launch was committed before the message was sent"
    unsent = dict(row)
    await platform.start_redis()
    assert await platform.queued_messages() == 0, "the restart lost the queue"

    for launch in (lost, unsent):
        row = await platform.operation(launch["operation"])
        assert (row["status"], row["attempts"]) == ("queued", 0)
    # Both waited longer than the sweep's threshold (rather than waiting two minutes).
    await platform.db.execute(
        "UPDATE saas_operations SET updated_at = now() - $1::interval WHERE status = 'queued'",
        operations.RESEND_QUEUED_AFTER * 2,
    )
    await platform.tick()
    for launch in (lost, unsent):
        done = await platform.until_final(launch["operation"])
        assert (done["status"], done["attempts"]) == ("succeeded", 1), done["error_detail"]
        tryton.assert_ready(launch["site"])  # its script logged in with the password
    assert tryton.sites() - before == {lost["site"], unsent["site"]}
    assert worker.process.returncode is None, "the worker outlived the broker's restart"


async def test_an_unreachable_server_fails_readably_and_leaves_no_site(platform, tmp_path):
    """An SSH server whose port is closed: the script never starts; the operation fails at
    once with a readable message and the launch is failed (retriable), not half-made."""
    from managely.hosts.ssh import generate_keypair

    private_key, public_key = generate_keypair()
    port = _free_port()
    gone = {
        "name": "gone",
        "host": "127.0.0.1",
        "driver": "ssh",
        "port": port,
        "private_key_pem": private_key,
        # A pinned key, so the failure is the connection and not a missing host key.
        "host_key": public_key,
        "root": str(tmp_path / "gone-root"),
    }
    await platform.start_worker()
    (launch,) = await platform.launch("acme-gone", server=("add_server", gone))
    failed = await platform.until_final(launch["operation"])
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["error_message"] == provision_failure()
    assert failed["error_detail"].startswith("HostError: ")  # for staff: which host, and why
    assert f"127.0.0.1:{port}: could not connect" in failed["error_detail"]
    assert (await platform.launch_row(launch["launch"]))["status"] == "failed"
    steps = await platform.db.fetch(
        "SELECT status FROM operation_steps WHERE operation_id = $1", failed["id"]
    )
    assert {row["status"] for row in steps} == {"pending"}, "no step ever started"
    assert not (tmp_path / "gone-root").exists()


async def test_an_ssh_connection_dropped_mid_script_rolls_back_then_a_retry_succeeds(
    platform, tryton, ssh_server
):
    """sshd's processes for the connection are killed in load_site: the operation fails with a
    readable message after its rollback (over a new connection) removed the half-made site;
    staff retry it and the site is made once."""
    before = tryton.sites()
    remote = {
        "name": "ssh-faults",
        "host": ssh_server.host,
        "driver": "ssh",
        "port": ssh_server.port,
        "ssh_user": ssh_server.user,
        "private_key_pem": ssh_server.client_key_pem,
        "host_key": ssh_server.host_key_line,
        "root": str(tryton.root),
        "tryton_port": tryton.port,
    }
    await platform.start_worker()
    with tryton.frozen():
        (launch,) = await platform.launch("acme-cut", server=("add_server", remote))
        await platform.until_step(launch["operation"], "load_site")
        assert tryton.state(launch["site"]) == "creating"
        script = set(_processes_of(launch["site"]))
        under_sshd = set(ssh_server.session_pids())
        # The script's short helpers (its waits on the frozen server) may end between the two
        # readings: what is still alive after the second was alive during it.
        assert script and {pid for pid in script if _alive(pid)} <= under_sshd, "it runs under sshd"
        ssh_server.drop_connections()
        failed = await platform.until_final(launch["operation"])
    assert failed["status"] == "failed"
    assert failed["error_message"] == provision_failure()
    assert failed["error_detail"] == "load_site: connection lost"
    assert (await platform.launch_row(launch["launch"]))["status"] == "failed"
    assert tryton.sites() == before, "the rollback removed the half-made site"
    assert not _processes_of(launch["site"]), "nothing of the script is left on the server"

    await platform.control(("retry", {"operation_id": launch["operation"]}))
    done = await platform.until_final(launch["operation"])
    assert (done["status"], done["attempts"]) == ("succeeded", 2), done["error_detail"]
    assert (await platform.launch_row(launch["launch"]))["status"] == "active"
    assert tryton.sites() - before == {launch["site"]}
    tryton.assert_ready(launch["site"])
    await platform.logs_in(launch, tryton)


# --- mid-renewal ----------------------------------------------------------------------------

RENEWALS = 20_000  # enough that the run takes seconds, so a fault lands in the middle of it


async def _due_subscriptions(platform: Platform) -> datetime:
    """RENEWALS subscriptions whose period ended an hour ago; returns their period start."""
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    start = due - timedelta(days=30)
    await platform.control(
        ("seed_renewals", {"count": RENEWALS, "start": start.isoformat(), "due": due.isoformat()})
    )
    return start


async def _mid_run(platform: Platform) -> int:
    """Wait until the renewal run has charged some periods but not all; how many."""

    async def started() -> int | None:
        charged = await platform.charges()
        return charged or None

    charged = await _until(started, "charging", platform.logs)
    assert charged < renewal_data.expected(RENEWALS)["renewed"], "the fault came too late"
    return charged


async def _renewed_once(platform: Platform, start: datetime) -> dict[str, int]:
    """Send the run until everything is charged; then each period is charged exactly once."""
    wanted = renewal_data.expected(RENEWALS)

    async def done() -> bool:
        finished = await platform.db.fetchval(
            "SELECT count(*) FROM clock_runs WHERE task = 'billing.renew' AND status = 'done'"
        )
        return finished > 0 and await platform.charges() == wanted["renewed"]

    await _until(done, "renewed", platform.logs)
    return await renewal_data.check(platform.env["MANAGELY_DATABASE_URL"], wanted, start)


async def test_a_worker_killed_mid_renewal_run_leaves_each_period_charged_once(platform):
    """SIGKILL on the worker while it renews 20,000 subscriptions: the batches it committed
    stay whole, the one in flight is rolled back by PostgreSQL, and the next run charges the
    rest. Every wallet equals its ledger; one charge and one invoice per period; no gaps."""
    start = await _due_subscriptions(platform)
    first = await platform.start_worker()
    await platform.control(("send", {"actor_name": "billing.renew"}))
    charged = await _mid_run(platform)
    await platform.crash(first)
    after_kill = await platform.charges()
    assert charged <= after_kill < renewal_data.expected(RENEWALS)["renewed"]
    invoices = await platform.db.fetchval("SELECT count(*) FROM invoices")
    assert invoices == after_kill, "a committed batch holds its invoices and its charges"

    await platform.start_worker()
    await platform.control(("send", {"actor_name": "billing.renew"}))
    found = await _renewed_once(platform, start)
    assert found["charges"] == found["invoices"] == found["number_span"]


async def test_database_connections_cut_mid_renewal_run_charge_nothing_twice(platform):
    """Every connection of the worker is terminated by PostgreSQL in the middle of the run:
    the batch in flight fails and is rolled back, the pool reconnects, and (with one more run
    if the first gave up) every period is charged exactly once."""
    start = await _due_subscriptions(platform)
    await platform.start_worker()
    await platform.control(("send", {"actor_name": "billing.renew"}))
    await _mid_run(platform)
    assert await platform.cut_database_connections() >= 1
    finished = await platform.db.fetchval(
        "SELECT count(*) FROM clock_runs WHERE task = 'billing.renew'"
    )
    if not finished or await platform.charges() < renewal_data.expected(RENEWALS)["renewed"]:
        # The run may end failed (recorded) or still be going; a second run is what the next
        # clock tick would send, and must charge only what is left.
        async def ended() -> bool:
            return bool(
                await platform.db.fetchval(
                    "SELECT count(*) FROM clock_runs WHERE task = 'billing.renew'"
                )
            )

        await _until(ended, "ended", platform.logs)
        await platform.control(("send", {"actor_name": "billing.renew"}))
    await _renewed_once(platform, start)


async def test_database_connections_cut_mid_provisioning_the_operation_still_ends(platform, tryton):
    """The worker's database connections are terminated while a creation script waits in
    load_site: when the script goes on, the worker writes its steps over new connections and
    the operation succeeds with one working site."""
    before = tryton.sites()
    await platform.start_worker()
    with tryton.frozen():
        (launch,) = await platform.launch("acme-cutdb", server=local_server(tryton))
        await platform.until_step(launch["operation"], "load_site")
        assert await platform.cut_database_connections() >= 1
    done = await platform.until_final(launch["operation"])
    assert done["status"] == "succeeded", (done["error_detail"], platform.logs())
    assert (await platform.launch_row(launch["launch"]))["status"] == "active"
    assert tryton.sites() - before == {launch["site"]}
    await platform.logs_in(launch, tryton)


# --- the clock ------------------------------------------------------------------------------

LEADER_TTL_S = 3  # a dead leader's lock lapses this fast here (30 s by default)


async def test_a_clock_killed_is_replaced_by_the_standby_and_no_tick_is_sent_twice(platform):
    """Two `managely clock` processes: the first takes the leader lock and sends each task's
    tick in progress; SIGKILL on it; the standby takes the lock once it lapses and catches up.
    Every task's tick in progress is sent, and every tick sent is one message in Redis."""
    platform.env["MANAGELY_CLOCK_LEADER_TTL_S"] = str(LEADER_TTL_S)
    clock = [str(BIN / "managely"), "clock"]
    first = await _spawn(clock, platform.env, platform.tmp / "clock-1.log")
    standby = None
    try:

        async def leader() -> str | None:
            async with platform.broker() as client:
                holder = await client.get("managely:clock:leader")
            return holder.decode().split(":")[1] if holder else None

        async def all_sent() -> bool:
            (ticks,) = await platform.control(("due_ticks", {}))
            return all(ticks.values())

        assert await _until(leader, "leading", lambda: "") == str(first.pid)
        await _until(all_sent, "caught up", lambda: (platform.tmp / "clock-1.log").read_text())
        standby = await _spawn(clock, platform.env, platform.tmp / "clock-2.log")
        _kill(first.pid, group=True)
        await first.wait()

        async def taken_over() -> bool:
            return await leader() == str(standby.pid)

        await _until(taken_over, "taken over", lambda: (platform.tmp / "clock-2.log").read_text())
        await _until(all_sent, "caught up", lambda: (platform.tmp / "clock-2.log").read_text())
        sent = await platform.db.fetchval("SELECT count(*) FROM clock_runs")
        async with platform.broker() as client:
            queued = 0
            async for key in client.scan_iter("managely:*.msgs"):
                queued += await client.hlen(key)
        assert queued == sent, "one message per tick: none sent twice, none dropped"
        duplicates = await platform.db.fetchval(
            "SELECT count(*) FROM (SELECT task, tick FROM clock_runs GROUP BY task, tick"
            " HAVING count(*) > 1) AS twice"
        )
        assert duplicates == 0
    finally:
        for process in (first, standby):
            if process is not None and process.returncode is None:
                process.terminate()
                await _reap(process, 10)
