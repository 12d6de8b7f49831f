"""Schemathesis against the live API: ``python -m tests.web.api_schemathesis``.

Starts the app under hypercorn on a loopback port with a fresh SQLite database (a user who
owns a system, a ticket, an invoice and a subscription, holds the admin role, and a token with
every scope),
then lets Schemathesis generate requests from ``/api/v1/openapi.json``. It fails on any
server error, any answer its schema does not describe, or an undeclared status or content
type. Bounded (``SCHEMATHESIS_MAX_EXAMPLES``, default 25 per operation) to stay quick.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance"
)


def _environment(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for line in (ROOT / "tests" / "test.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    for key in ("MANAGELY_REDIS_URL", "MANAGELY_SMTP_URL"):
        env.pop(key, None)
    env["MANAGELY_DATA_DIR"] = str(workdir / "data")
    env["MANAGELY_DATABASE_URL"] = f"sqlite://{workdir / 'api.sqlite3'}"
    return env


async def _seed() -> None:
    """Migrate the fresh database, add a user (staff too, so staff calls run) with objects."""
    from managely import db, schema
    from managely.services import accounts, seed
    from managely.settings import get_settings
    from tests.web.routes import OWNED_OBJECTS, make_invoice, make_launch, make_ticket

    settings = get_settings()
    await schema.upgrade(settings.database_url)
    await db.init(settings)
    try:
        await accounts.ensure_roles()
        await seed.seed_demo()
        user = await accounts.create_user(
            email="api@example.com", password="correct-horse-42", name="Api", role="admin"
        )
        await make_launch(user)
        await make_ticket(user)
        await make_invoice(user)
        await OWNED_OBJECTS["subscriptions.page"](user)
    finally:
        await db.close()


def _managely(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [str(BIN / "managely"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _process_invoices(env: dict[str, str]) -> None:
    """The ops script for invoices drives the same database through the CLI."""
    script = ROOT / "ops" / "scripts" / "process_invoices.sh"
    done = subprocess.run(
        [str(script), "--managely", str(BIN / "managely")], env=env, capture_output=True, text=True
    )
    if done.returncode != 0 or "::result drawn=1" not in done.stdout:
        raise SystemExit(f"process_invoices.sh: {done.stdout}{done.stderr}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_serving(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"hypercorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # polling a server that is starting, not synchronising a test
    raise SystemExit(f"{url} did not answer within {timeout} s")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="managely-schemathesis-") as tmp:
        env = _environment(Path(tmp))
        os.environ.update(env)
        asyncio.run(_seed())
        token = _managely(
            "api-tokens", "create", "--email", "api@example.com", "--scopes", "read,write,admin",
            env=env,
        )  # fmt: skip
        _process_invoices(env)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(BIN / "hypercorn"), "managely.web.asgi:app", "--bind", f"127.0.0.1:{port}"],
            env=env,
            cwd=ROOT,
        )
        try:
            _wait_until_serving(f"{base}/api/v1/openapi.json", server)
            return subprocess.call(
                [
                    str(BIN / "schemathesis"),
                    "run",
                    f"{base}/api/v1/openapi.json",
                    "--checks",
                    CHECKS,
                    "--header",
                    f"Authorization: Bearer {token}",
                    "--max-examples",
                    os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"),
                    "--max-time",
                    os.environ.get("SCHEMATHESIS_MAX_TIME", "70"),
                    "--seed",
                    os.environ.get("SCHEMATHESIS_SEED", "20261124"),
                    "--generation-database",
                    "none",
                    # Under the API's per-token limit (1,200 a minute), so calls reach the views.
                    "--rate-limit",
                    "1000/m",
                    "--workers",
                    "1",
                    "--no-color",
                ],
                env=env,
                cwd=tmp,
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
