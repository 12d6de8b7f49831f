"""A real Managely for the browser: ``managely dev`` on a loopback port in its own process.

The process gets a throw-away data dir (SQLite, sites deployed by the local driver), the
session's SMTP inbox for its emails, and tests/paypal_fake.py as PayPal. A staff account is
created with the CLI before it starts. Chromium is Debian's (``/usr/bin/chromium``), driven
headless by Playwright; Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.conftest import CI, ROOT
from tests.paypal_fake import CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID, FakePayPal
from tests.support import Inbox, fixed_port

CHROMIUM = Path(os.environ.get("MANAGELY_E2E_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "var" / "e2e-artifacts"
STAFF_EMAIL, STAFF_PASSWORD = "desk@e2e.example.com", "staff-horse-4242"
READY_S = 240  # first start bootstraps the local server: trytond and a template per package


@dataclass
class Product:
    url: str
    data_dir: Path
    inbox: Inbox
    paypal: FakePayPal
    process: subprocess.Popen
    log: Path
    # What the customer journeys leave for the staff journey: ticket and invoice codes.
    tickets: list[str] = field(default_factory=list)
    invoices: list[str] = field(default_factory=list)
    customers: list[tuple[str, str]] = field(default_factory=list)  # (email, subdomain)

    def query(self, sql: str, *args) -> list[tuple]:
        """Read the product's database (to wait for the background server bootstrap)."""
        with sqlite3.connect(self.data_dir / "managely.sqlite3", timeout=10) as conn:
            return conn.execute(sql, args).fetchall()


def _missing() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed: .venv/bin/pip install -e '.[dev]'"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: bash ops/setup/system_deps.sh e2e"
    return None


def _managely(env: dict, *args: str) -> None:
    subprocess.run(
        [str(Path(sys.executable).parent / "managely"), *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


BUSY_BOOTSTRAPS = (
    "SELECT count(*) FROM saas_operations WHERE kind = 'bootstrap_server' "
    "AND status IN ('queued', 'running')"
)


def _ready(product: Product) -> bool:
    try:
        with urllib.request.urlopen(product.url + "/healthz", timeout=5) as answer:  # noqa: S310
            if answer.status != 200:
                return False
    except OSError:
        return False
    # The server is active once bootstrapped; then one template per package is built.
    active = product.query("SELECT count(*) FROM servers WHERE status = 'active'")[0][0]
    return active > 0 and product.query(BUSY_BOOTSTRAPS)[0][0] == 0


def _wait_until_ready(product: Product) -> None:
    deadline = time.monotonic() + READY_S
    calm = 0  # the template builds start just after the server turns active: ask twice
    while time.monotonic() < deadline and product.process.poll() is None:
        calm = calm + 1 if _ready(product) else 0
        if calm == 2:
            return
        time.sleep(0.5)  # polling an outside process, not synchronising our own code
    raise RuntimeError(f"managely dev did not become ready:\n{product.log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def product(smtp: Inbox):
    reason = _missing()
    if reason:
        if CI:
            pytest.fail(f"CI=true but the browser tests cannot run: {reason}")
        pytest.skip(reason)
    work = Path(tempfile.mkdtemp(prefix="managely-e2e-"))
    paypal = FakePayPal().start()
    port = fixed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MANAGELY_")}
    env.update(
        MANAGELY_ENV="development",
        MANAGELY_SECRET_KEY="e2e-secret-key-0123456789-abcdefghijklmnop",
        MANAGELY_DATA_DIR=str(work / "data"),
        MANAGELY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        MANAGELY_SMTP_URL=smtp.url,
        MANAGELY_LOCAL_TRYTON_PORT=str(fixed_port()),
        # Trials clone the package template: no standby sites competing for the CPU.
        MANAGELY_WARM_POOL_SIZE="0",
        MANAGELY_WORKER_THREADS="6",  # emails must not queue behind the warm pool's builds
        # Every journey comes from 127.0.0.1: the one-trial-per-address guard must let them.
        MANAGELY_TRIALS_PER_IP="50",
        MANAGELY_PAYPAL_BASE_URL=paypal.base_url,
        MANAGELY_PAYPAL_CLIENT_ID=CLIENT_ID,
        MANAGELY_PAYPAL_CLIENT_SECRET=CLIENT_SECRET,
        MANAGELY_PAYPAL_WEBHOOK_ID=WEBHOOK_ID,
        MANAGELY_LOG_LEVEL="WARNING",
    )
    (work / "data").mkdir()
    _managely(env, "migrate")
    _managely(env, "create-user", "--email", STAFF_EMAIL, "--password", STAFF_PASSWORD,
              "--role", "superadmin", "--name", "Desk Staff")  # fmt: skip
    log = work / "managely.log"
    log_file = log.open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "managely"), "dev", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # trytond and scripts it starts are stopped with it
    )
    running = Product(f"http://127.0.0.1:{port}", work / "data", smtp, paypal, process, log)
    try:
        _wait_until_ready(running)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log_file.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, ARTIFACTS / "managely.log")  # the server's side of a failure
        paypal.stop()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
async def chromium(product):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield browser
        await browser.close()
