"""install_addon.sh against a real, running trytond: modules activated live on one site.

One throw-away root for the module: bootstrapped with this interpreter (trytond, party and
product are installed here, nothing is downloaded), one trytond on a fixed port, the template
"mini" with `party` only, and two sites on it. `product` (with company and currency) is then
activated on one site while trytond keeps running, and the proof is a JSON-RPC call to a model
that only exists with it, made to the same trytond process, with no restart.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.ops.tryton_host")

from tests.ops import tryton_host  # noqa: E402
from tests.ops.tryton_host import PYTHON, Server, assert_login_ok, rpc_login  # noqa: E402
from tests.support import fixed_port  # noqa: E402

SCRIPT = "install_addon.sh"
STEPS = ["check_site", "check_modules", "activate_modules", "verify"]
SHOP, SHOP_PASSWORD = "shop", "Shop-secret-4711"
NEIGHBOUR, NEIGHBOUR_PASSWORD = "neighbour", "Neighbour-secret-0815"


def _has_modules() -> bool:
    import importlib.util

    return all(
        importlib.util.find_spec(name) is not None
        for name in ("trytond", "trytond.modules.party", "trytond.modules.product")
    )


pytestmark = pytest.mark.skipif(
    not _has_modules(), reason="trytond with party and product is not installed here"
)

run = partial(tryton_host.run, steps={SCRIPT: [*STEPS, "rollback"]})


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("addon") / "root"
    port = fixed_port()
    try:
        boot = run(
            "bootstrap_server.sh",
            "--root", str(root), "--port", str(port), "--python", PYTHON,
            "--modules", "party,product", "--no-systemd",
        )  # fmt: skip
        assert boot.ok, boot.text
        tpl = run(
            "build_template.sh", "--root", str(root), "--package", "mini", "--modules", "party",
            timeout=300,
        )  # fmt: skip
        assert tpl.ok, tpl.text
        srv = Server(root=root, port=port)
        for site, password in ((SHOP, SHOP_PASSWORD), (NEIGHBOUR, NEIGHBOUR_PASSWORD)):
            made = run(
                "create_site_in_isolated.sh",
                "--root", str(root), "--site", site, "--package", "mini",
                secrets={"ADMIN_PASSWORD": password},
            )  # fmt: skip
            assert made.ok, made.text
        yield srv
    finally:
        run("stop_service.sh", "--root", str(root))
        pid_file = root / "run" / "trytond.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)


def install(server: Server, site: str, modules: str, *extra: str, **kwargs):
    return run(
        SCRIPT, "--root", str(server.root), "--site", site, "--modules", modules, *extra, **kwargs
    )


def trytond_pid(server: Server) -> int:
    pid = int((server.root / "run" / "trytond.pid").read_text())
    os.kill(pid, 0)  # alive
    return pid


def module_states(server: Server, site: str) -> dict[str, str]:
    connection = sqlite3.connect(f"file:{server.db(site)}?mode=ro", uri=True)
    try:
        return dict(connection.execute("SELECT name, state FROM ir_module"))
    finally:
        connection.close()


def set_state(server: Server, site: str, module: str, state: str) -> None:
    connection = sqlite3.connect(server.db(site), timeout=30)
    try:
        connection.execute("UPDATE ir_module SET state = ? WHERE name = ?", (state, module))
        connection.commit()
    finally:
        connection.close()


def call(server: Server, site: str, password: str, method: str, *params):
    """Log in as the site's admin, then call `method` over JSON-RPC: (result, error)."""
    status, login = rpc_login(server, site, "admin", password)
    assert status == 200, (status, login)
    user_id, key = login[0], login[1]
    token = base64.b64encode(f"admin:{user_id}:{key}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 (http:// on loopback)
        f"http://127.0.0.1:{server.port}/{site}/rpc/",
        data=json.dumps({"id": 1, "method": method, "params": list(params)}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Session {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
        answer = json.loads(response.read())
    return answer.get("result"), answer.get("error")


def search_products(server: Server, site: str, password: str):
    return call(server, site, password, "model.product.template.search", [], 0, None, None, {})


def test_help_declares_the_steps():
    out = run(SCRIPT, "--help")
    assert out.returncode == 0 and "Usage:" in out.stdout and "--root" in out.stdout
    for step in [*STEPS, "rollback", "--uninstall"]:
        assert step in out.stdout


def test_activate_product_on_a_running_trytond(server):
    pid = trytond_pid(server)
    before = module_states(server, SHOP)
    assert before["party"] == "activated" and before["product"] == "not activated"
    result, error = search_products(server, SHOP, SHOP_PASSWORD)
    assert result is None and "product.template" in str(error)  # no such model yet

    # The neighbour logs in again and again while the shop's modules are activated.
    stop, logins = threading.Event(), []

    def neighbour_logins() -> None:
        while not stop.is_set():
            started = time.monotonic()
            status, _ = rpc_login(server, NEIGHBOUR, "admin", NEIGHBOUR_PASSWORD)
            logins.append((status, time.monotonic() - started))
            time.sleep(0.05)

    thread = threading.Thread(target=neighbour_logins, daemon=True)
    thread.start()
    started = time.monotonic()
    out = install(server, SHOP, "product")  # no secret on stdin: none is needed
    elapsed = time.monotonic() - started
    time.sleep(0.3)
    stop.set()
    thread.join(timeout=60)

    assert out.ok, out.text
    assert out.steps == STEPS
    assert out.results == {
        "modules": "company,country,currency,ir,party,product,res",
        "changed": "company,currency,product",
    }
    print(f"\ninstall_addon.sh product: {elapsed:.1f} s; " + out.stdout)

    # The same trytond process serves the new model at once.
    assert trytond_pid(server) == pid
    result, error = search_products(server, SHOP, SHOP_PASSWORD)
    assert error is None and result == [], error
    result, error = call(
        server, SHOP, SHOP_PASSWORD, "model.ir.module.search_read",
        [["name", "in", ["product", "company", "currency"]]], 0, None, None, ["name", "state"], {},
    )  # fmt: skip
    assert error is None and {r["state"] for r in result} == {"activated"}, result

    # The other site never went down, and keeps its own module set.
    assert logins and all(status == 200 for status, _ in logins), logins
    print(
        f"neighbour logins during the activation: {len(logins)}, "
        f"slowest {max(seconds for _, seconds in logins):.2f} s"
    )
    assert_login_ok(server, NEIGHBOUR, "admin", NEIGHBOUR_PASSWORD)
    result, error = search_products(server, NEIGHBOUR, NEIGHBOUR_PASSWORD)
    assert result is None and "product.template" in str(error)
    assert module_states(server, NEIGHBOUR)["product"] == "not activated"

    # The console session the script used is gone (it was backdated by ~30 days).
    connection = sqlite3.connect(f"file:{server.db(SHOP)}?mode=ro", uri=True)
    try:
        old = str(dt.datetime.now() - dt.timedelta(days=1))
        assert not connection.execute(
            "SELECT id FROM ir_session WHERE create_date < ?", (old,)
        ).fetchall()
    finally:
        connection.close()


def test_again_is_a_no_op(server):
    assert install(server, SHOP, "product").ok
    pid, before = trytond_pid(server), module_states(server, SHOP)
    out = install(server, SHOP, "product,party")
    assert out.ok, out.text
    assert out.steps == ["check_site", "check_modules"]
    assert "nothing to do" in out.stdout
    assert out.results["changed"] == ""
    assert out.results["modules"] == "company,country,currency,ir,party,product,res"
    assert module_states(server, SHOP) == before and trytond_pid(server) == pid


@pytest.mark.parametrize(
    "modules",
    [";rm -rf /", "x;rm -rf ~", "../x", "product/../../etc", "Product", "a,,b", ",a", "$(touch "
     "PWNED)", "no_such_module", "product,no_such_module"],
    ids=repr,
)  # fmt: skip
def test_bad_module_names_are_refused_before_anything_changes(server, modules):
    before = (module_states(server, NEIGHBOUR), server.files())
    out = install(server, NEIGHBOUR, modules)
    assert out.returncode == 1, out.stdout
    assert len(out.errors) == 1, out.stdout
    if "no_such_module" in modules:
        assert out.errors[0] == "not installed in the server's trytond: no_such_module"
        assert out.steps == ["check_site", "check_modules"]
    else:
        assert out.errors[0].startswith("invalid modules:"), out.errors
        assert out.steps == []
        assert all(line.startswith("::") for line in out.stdout.splitlines()), out.stdout
    assert (module_states(server, NEIGHBOUR), server.files()) == before
    assert not (server.site_dir(NEIGHBOUR) / "addons.journal").exists()
    assert not any(server.root.rglob("PWNED")) and not (Path.cwd() / "PWNED").exists()
    assert_login_ok(server, NEIGHBOUR, "admin", NEIGHBOUR_PASSWORD)


def test_unknown_site_and_missing_arguments(server):
    out = install(server, "nowhere", "product")
    assert out.returncode == 1 and out.errors == ["site nowhere does not exist"]
    out = run(SCRIPT, "--root", str(server.root), "--site", NEIGHBOUR)
    assert out.returncode == 1 and out.errors == ["--modules is required"]


def test_uninstall_is_refused_and_changes_nothing(server):
    assert install(server, SHOP, "product").ok
    before = module_states(server, SHOP)
    out = install(server, SHOP, "product", "--uninstall")
    assert out.returncode == 1 and "not supported" in out.errors[0], out.stdout
    assert module_states(server, SHOP) == before
    assert search_products(server, SHOP, SHOP_PASSWORD) == ([], None)
    back = install(server, SHOP, "product", "--uninstall", "--rollback")
    assert back.ok and back.steps == ["rollback"], back.stdout


def test_pending_changes_left_in_tryton_are_not_applied(server):
    set_state(server, NEIGHBOUR, "product", "to activate")  # as if someone clicked Activate
    try:
        out = install(server, NEIGHBOUR, "currency")
        assert out.returncode == 1, out.stdout
        assert "pending in Tryton (product: to activate)" in out.errors[0]
        assert module_states(server, NEIGHBOUR)["currency"] == "not activated"
    finally:
        set_state(server, NEIGHBOUR, "product", "not activated")


def test_rollback(server):
    root = ["--root", str(server.root), "--site", NEIGHBOUR]
    journal = server.site_dir(NEIGHBOUR) / "addons.journal"
    # Nothing recorded.
    out = run(SCRIPT, *root, "--modules", "currency", "--rollback")
    assert out.ok and out.steps == ["rollback"] and "nothing to roll back" in out.stdout
    # A run that stopped after marking currency, before trytond applied it.
    set_state(server, NEIGHBOUR, "currency", "to activate")
    journal.write_text("modules=currency\nchanged=currency\nstate=running\n")
    out = run(SCRIPT, *root, "--modules", "currency", "--rollback")
    assert out.ok, out.stdout
    assert "unmarked currency" in out.stdout
    assert module_states(server, NEIGHBOUR)["currency"] == "not activated"
    assert not journal.exists()
    assert run(SCRIPT, *root, "--modules", "currency", "--rollback").ok  # twice is fine
    # A finished run is not undone.
    assert install(server, SHOP, "product").ok
    out = install(server, SHOP, "product", "--rollback")
    assert out.ok and "finished: nothing to roll back" in out.stdout
    assert module_states(server, SHOP)["product"] == "activated"
