"""The `managely` command: `dev` runs the whole product, and the smaller commands work."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.support import _free_port

MANAGELY = str(Path(sys.executable).parent / "managely")


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MANAGELY_")}
    # The local ERP server (trytond, templates) is tested in test_provisioning; here it would
    # only build templates in the background while the web checks run.
    env.update(
        MANAGELY_DATA_DIR=str(data_dir),
        MANAGELY_WORKER_THREADS="2",
        MANAGELY_LOCAL_SERVER="false",
        **extra,
    )
    return env


class DevServer:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"dev-{self.port}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [MANAGELY, "dev", "--port", str(self.port)],
            cwd=ROOT,
            env=_env(data_dir, **env),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while "Running on" not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(self.output())
            time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            self._log_file.close()


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _form(client: httpx.Client, path: str, data: dict) -> httpx.Response:
    token = _csrf(client.get(path).text)
    return client.post(path, data={**data, "csrf_token": token})


@pytest.fixture
def dev_dir(tmp_path) -> Path:
    return tmp_path / "var"


def test_dev_serves_the_product_and_a_customer_signs_up_over_http(dev_dir, smtp):
    server = DevServer(dev_dir, MANAGELY_SMTP_URL=smtp.url)
    try:
        banner = server.output()
        assert f"Managely is running at {server.url}" in banner
        login = re.search(r"Admin login: (\S+) / (\S+)", banner)
        assert login and login.group(1) == "admin@managely.local"

        with httpx.Client(base_url=server.url, timeout=10) as web:
            health = web.get("/healthz").json()
            assert health["status"] == "ok" and health["broker"]["kind"] == "memory"
            assert (
                '<html lang="ar" dir="rtl">' in web.get("/", headers={"Accept-Language": "ar"}).text
            )
            assert '<html lang="en" dir="ltr">' in web.get("/").text

            response = _form(
                web,
                "/signup",
                {
                    "name": "Hala",
                    "email": "hala@example.com",
                    "password": "strong-pass-123",
                    "company": "Hala Co",
                },
            )
            assert response.status_code == 302, response.text
            deadline = time.monotonic() + 15
            while not smtp.to("hala@example.com"):
                assert time.monotonic() < deadline, server.output()
                time.sleep(0.1)
            code = smtp.last_code("hala@example.com")
            assert _form(web, "/verify", {"code": code}).status_code == 302
            response = _form(
                web, "/login", {"email": "hala@example.com", "password": "strong-pass-123"}
            )
            assert response.status_code == 302 and response.headers["location"] == "/panel/"
            assert "Hala Co" in web.get("/panel/").text
            logout = web.post("/logout", data={"csrf_token": _csrf(web.get("/panel/").text)})
            assert logout.status_code == 302
            assert web.get("/panel/").status_code == 302

            admin = httpx.Client(base_url=server.url, timeout=10)
            response = _form(admin, "/login", {"email": login.group(1), "password": login.group(2)})
            assert response.status_code == 302
            assert "hala@example.com" in admin.get("/admin/users").text
            admin.close()
    finally:
        assert server.stop() == 0

    again = DevServer(dev_dir, MANAGELY_SMTP_URL=smtp.url)
    try:
        assert re.search(r"Admin login: (\S+) / (\S+)", again.output()).group(2) == login.group(2)
        with httpx.Client(base_url=again.url, timeout=10) as web:
            response = _form(
                web, "/login", {"email": "hala@example.com", "password": "strong-pass-123"}
            )
            assert response.status_code == 302, "the data of the last run was kept"
    finally:
        again.stop()


def test_create_user_and_seed_demo_are_safe_to_repeat(dev_dir):
    env = _env(dev_dir)

    def run(*args):
        return subprocess.run(
            [MANAGELY, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run("migrate").returncode == 0
    first, second = run("seed-demo"), run("seed-demo")
    assert "'packages': 3" in first.stdout and "'packages': 0" in second.stdout
    created = run(
        "create-user",
        "--email",
        "ops@example.com",
        "--password",
        "ops-secret-99",
        "--role",
        "admin",
    )
    assert created.returncode == 0 and "created ops@example.com (admin)" in created.stdout
    duplicate = run("create-user", "--email", "ops@example.com", "--password", "ops-secret-99")
    assert duplicate.returncode != 0
    weak = run("create-user", "--email", "weak@example.com", "--password", "short")
    assert weak.returncode != 0 and "at least 10 characters" in weak.stderr


def test_a_bad_setting_stops_the_command_with_its_name(dev_dir):
    result = subprocess.run(
        [MANAGELY, "migrate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(dev_dir, MANAGELY_DATABASE_URL="mysql://nope"),
        timeout=60,
    )
    assert result.returncode != 0
    assert "MANAGELY_DATABASE_URL must start with one of" in result.stderr


def test_servers_commands_add_bootstrap_check_drain_and_list(dev_dir, tmp_path):
    from tests.support import fixed_port

    env = _env(dev_dir)
    root, port = tmp_path / "host-root", fixed_port()

    def run(*args):
        return subprocess.run(
            [MANAGELY, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )

    assert run("migrate").returncode == 0
    added = run(
        "servers",
        "add",
        "edge-1",
        "--driver",
        "local",
        "--host",
        "127.0.0.1",
        "--root",
        str(root),
        "--tryton-port",
        str(port),
        "--region",
        "eu",
    )
    assert added.returncode == 0 and "added edge-1 (local, eu" in added.stdout, added.stderr
    assert run("servers", "add", "edge-1", "--driver", "local", "--host", "x").returncode != 0
    try:
        booted = run("servers", "bootstrap", "edge-1")
        assert booted.returncode == 0, booted.stdout + booted.stderr
        assert "bootstrap succeeded" in booted.stdout and "tryton_version" in booted.stdout
        checked = run("servers", "check", "edge-1")
        assert checked.returncode == 0 and "trytond=up" in checked.stdout, checked.stdout
        assert "is draining" in run("servers", "drain", "edge-1").stdout
        listed = run("servers", "list").stdout
        assert "edge-1" in listed and "draining" in listed
    finally:
        subprocess.run(
            ["bash", str(ROOT / "ops" / "scripts" / "stop_service.sh"), "--root", str(root)],
            capture_output=True,
            timeout=60,
        )
