"""The production web process on PostgreSQL + Redis, for the load benchmarks.

``LiveStack`` makes a throw-away PostgreSQL database on the local cluster
(postgres@127.0.0.1:5432, or MANAGELY_BENCH_POSTGRES_URL) and uses one Redis database
(MANAGELY_BENCH_REDIS_URL, default db 12, flushed before and after), migrates and seeds it,
writes customers with a funded wallet, an active system and a running operation each, then
starts the Procfile's ``web`` process (``hypercorn managely.web.asgi:app``) in production mode
on a loopback port. No worker runs: launches are written and queued, which is the web's part.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ADMIN_URL = os.environ.get(
    "MANAGELY_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("MANAGELY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PASSWORD = "bench-horse-battery-42"


@dataclass
class Customer:
    email: str
    system: str  # launch code
    operation: str  # a running operation's code
    cookie: str  # the Cookie header of a signed-in browser
    csrf: str  # the CSRF token its forms carry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit() -> int:
    """As many open files as the hard limit allows (this process and the server it starts)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def group_rss_kib(pgid: int) -> int:
    """Resident memory of the live processes of a process group, in KiB."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            for line in (status.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total


def machine() -> str:
    return f"{platform.node()}, {os.cpu_count()} cores"


def record(line: str) -> None:
    with (ROOT / "bench" / "RESULTS.md").open("a") as results:
        results.write(line + "\n")


def today() -> str:
    return f"{datetime.now(UTC):%Y-%m-%d}"


class LiveStack:
    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self.work = Path(tempfile.mkdtemp(prefix="managely-bench-live-"))
        self.db_name = f"managely_bench_live_{os.getpid()}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MANAGELY_")}
        self.env.update(
            MANAGELY_ENV="production",
            MANAGELY_SECRET_KEY="bench-live-secret-0123456789abcdefghijklmnop",
            MANAGELY_DATA_DIR=str(self.work / "data"),
            MANAGELY_DATABASE_URL=ADMIN_URL.rsplit("/", 1)[0] + f"/{self.db_name}",
            MANAGELY_REDIS_URL=REDIS_URL,
            MANAGELY_PUBLIC_URL="http://127.0.0.1",
            MANAGELY_LOCAL_SERVER="false",
            MANAGELY_TRIALS_PER_IP="100000",
            MANAGELY_LOG_LEVEL="WARNING",
        )
        self.process: subprocess.Popen | None = None

    # -- set-up ---------------------------------------------------------------------------

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def _flush_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        client.close()

    def prepare(self, customers: int) -> list[Customer]:
        (self.work / "data").mkdir()
        self._flush_redis()
        asyncio.run(self._admin(f'CREATE DATABASE "{self.db_name}"'))
        for step in (["migrate"], ["seed-demo"]):
            subprocess.run(
                [str(BIN / "managely"), *step], cwd=ROOT, env=self.env, check=True,
                capture_output=True,
            )  # fmt: skip
        done = subprocess.run(
            [sys.executable, __file__, "customers", str(customers)],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        rows = [line.split() for line in done.stdout.splitlines() if line.startswith("customer ")]
        return [Customer(*row[1:]) for row in rows]

    def start(self) -> None:
        log = (self.work / "web.log").open("w")
        self.process = subprocess.Popen(
            [
                str(BIN / "hypercorn"), "managely.web.asgi:app", "--workers", str(self.workers),
                "--bind", f"127.0.0.1:{self.port}", "--backlog", "16384",
            ],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # hypercorn's workers are stopped with it
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"web did not start:\n{self.log_text()}")
            time.sleep(0.2)

    def log_text(self) -> str:
        return (self.work / "web.log").read_text()[-4000:]

    def server_errors(self) -> int:
        """5xx answers and unhandled errors the web process logged."""
        text = (self.work / "web.log").read_text()
        found = len(re.findall(r'" 5\d\d |unhandled error|^Traceback', text, re.M))
        if found:
            print(f"--- web.log (last lines) ---\n{self.log_text()}", file=sys.stderr)
        return found

    def rss_kib(self) -> int:
        return group_rss_kib(self.process.pid) if self.process else 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        self._flush_redis()
        shutil.rmtree(self.work, ignore_errors=True)


async def _make_customers(count: int) -> None:
    """Run in a child process with the stack's environment: customers with a funded wallet,
    an active system and a running operation each, written directly, and a signed-in browser
    session each (signing in through /login would meet its rate limit)."""
    from managely import db, settings
    from managely.models.accounts import ServiceBeneficiary
    from managely.models.catalog import Package
    from managely.models.launches import Launch, LaunchStatus
    from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
    from managely.models.servers import Server, ServerStatus
    from managely.services import accounts, wallet
    from managely.web import create_app
    from managely.web.auth import auth

    app = create_app(settings.get_settings())
    sessions = app.session_interface.get_signing_serializer(app)
    await db.init(settings.get_settings())
    try:
        await accounts.ensure_roles()
        package = await Package.get(slug="starter")
        server = await Server.create(
            name="bench-host", host="127.0.0.1", driver="local", status=ServerStatus.ACTIVE,
            sites_root="/tmp/managely-bench-host", capacity=1_000_000,  # noqa: S108 (never used)
        )  # fmt: skip
        for n in range(count):
            user = await accounts.create_user(
                email=f"bench{n}@example.com", password=PASSWORD, name=f"Bench {n}",
                role="customer",
            )  # fmt: skip
            await wallet.post(
                user, "USD", 1_000_000, "adjustment", f"bench:{n}",
                description="bench funds",
            )  # fmt: skip
            launch = await Launch.create(
                user=user, beneficiary=await ServiceBeneficiary.filter(owner=user).first(),
                package=package, server=server, subdomain=f"bench{n}", site_name=f"bench{n}",
                status=LaunchStatus.ACTIVE, url=f"http://127.0.0.1:1/bench{n}/",
            )  # fmt: skip
            operation = await SaaSOperation.create(
                kind=OperationKind.BACKUP, status=OperationStatus.RUNNING, progress=10,
                user=user, launch=launch, server=server, steps=["backup"],
            )  # fmt: skip
            signed_in = await accounts.start_session(user, ip="127.0.0.1", user_agent="bench")
            csrf = secrets.token_urlsafe(32)
            cookie = (
                f"managely_auth={auth.dump_token(signed_in.code, app=app)};"
                f"managely_session={sessions.dumps({'csrf_token': csrf})}"
            )
            print("customer", user.email, launch.code, operation.code, cookie, csrf, flush=True)
    finally:
        await db.close()


if __name__ == "__main__" and sys.argv[1:2] == ["customers"]:
    asyncio.run(_make_customers(int(sys.argv[2])))
