"""The production path: the Procfile's processes on PostgreSQL and Redis, as separate processes.

release (`managely migrate`), web (hypercorn), worker (`dramatiq managely.jobs`) and clock
(`managely clock`) start from the same code; a visitor signs up over HTTP and the verification
code arrives by SMTP, sent by the worker process through the Redis broker.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import CI, PG_ADMIN_URL, REDIS_URL, ROOT, _pg_redis_problem
from tests.support import _free_port

BIN = Path(sys.executable).parent


@pytest.fixture
async def production_env(tmp_path, smtp):
    problem = await _pg_redis_problem()
    if problem:
        if CI:
            pytest.fail(f"CI requires the PostgreSQL + Redis tier: {problem}")
        pytest.skip(problem)
    name = f"managely_procfile_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("MANAGELY_")}
    env.update(
        MANAGELY_ENV="production",
        MANAGELY_SECRET_KEY="procfile-test-secret-0123456789abcdefghijkl",
        MANAGELY_DATABASE_URL=PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}",
        MANAGELY_REDIS_URL=REDIS_URL,
        MANAGELY_SMTP_URL=smtp.url,
        MANAGELY_DATA_DIR=str(tmp_path / "data"),
        MANAGELY_PUBLIC_URL="http://127.0.0.1",
    )
    yield env
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


def _start(command: list[str], env: dict, log: Path) -> tuple[subprocess.Popen, object]:
    handle = log.open("w")
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
    ), handle


def test_the_procfile_processes_serve_a_signup_on_postgres_and_redis(
    production_env, smtp, tmp_path
):
    release = subprocess.run(
        [str(BIN / "managely"), "migrate"],
        cwd=ROOT,
        env=production_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert release.returncode == 0, release.stderr
    shipped = len(list((ROOT / "migrations" / "postgres" / "models").glob("*.py")))
    assert f"migrations applied: {shipped}" in release.stdout

    port = _free_port()
    processes = [
        _start(
            [str(BIN / "hypercorn"), "managely.web.asgi:app", "--bind", f"127.0.0.1:{port}"],
            production_env,
            tmp_path / "web.log",
        ),
        _start(
            [str(BIN / "dramatiq"), "managely.jobs", "--processes", "1", "--threads", "2"],
            production_env,
            tmp_path / "worker.log",
        ),
        _start([str(BIN / "managely"), "clock"], production_env, tmp_path / "clock.log"),
    ]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as web:
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = web.get("/healthz").json()
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()
                    time.sleep(0.2)
            assert health["database"] == {"status": "ok", "dialect": "postgres"}
            assert health["broker"] == {"status": "ok", "kind": "redis"}

            page = web.get("/signup").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            response = web.post(
                "/signup",
                data={
                    "csrf_token": token,
                    "name": "Prod Buyer",
                    "email": "prod@example.com",
                    "password": "launch-secret-123",
                    "company": "Prod Co",
                },
            )
            assert response.status_code == 302, response.text
        deadline = time.monotonic() + 30
        while not smtp.to("prod@example.com"):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        assert re.fullmatch(r"\d{6}", smtp.last_code("prod@example.com"))
        assert "took the leader lock" in (tmp_path / "clock.log").read_text()
    finally:
        for process, _handle in processes:
            process.send_signal(signal.SIGTERM)
        for process, handle in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            handle.close()
