"""Helpers shared by the ops script tests: run a script, a throw-away trytond root, logins.

`bootstrapped_root` bootstraps one Managely root with this interpreter (which has trytond and
the sale modules, so nothing is downloaded), one trytond process on a free port below 32768,
and the template for the package "starter" (modules: sale); it stops trytond afterwards.
Logins are checked with urllib JSON-RPC, independently of ops/scripts/tryton_rpc.py.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import random
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "ops" / "scripts"
PYTHON = sys.executable
PACKAGE = "starter"


def has_trytond() -> bool:
    return all(
        importlib.util.find_spec(name) is not None for name in ("trytond", "trytond.modules.sale")
    )


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    steps: list[str] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.errors

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


def run(
    script: str,
    *args: str,
    secrets: dict[str, str] | None = None,
    timeout=120,
    steps: Mapping[str, Sequence[str]] | None = None,
) -> Run:
    """Run ops/scripts/<script>, the secrets as KEY=value lines on stdin, and parse its output.

    With `steps` (script -> declared steps), a script listed there may print only those steps.
    """
    stdin = "".join(f"{key}={value}\n" for key, value in (secrets or {}).items())
    proc = subprocess.run(
        ["bash", str(SCRIPTS / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = Run(proc.returncode, proc.stdout, proc.stderr)
    for line in proc.stdout.splitlines():
        if line.startswith("::step "):
            out.steps.append(line[len("::step ") :])
        elif line.startswith("::result "):
            key, _, value = line[len("::result ") :].partition("=")
            out.results[key] = value
        elif line.startswith("::error "):
            out.errors.append(line[len("::error ") :])
    if steps is not None and script in steps:
        undeclared = set(out.steps) - set(steps[script])
        assert not undeclared, f"{script} printed undeclared steps {undeclared}"
    return out


def free_port() -> int:
    for port in random.sample(range(20000, 30000), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-30000")


@dataclass
class Server:
    root: Path
    port: int

    def db(self, site: str) -> Path:
        return self.root / "db" / f"{site}.sqlite"

    def site_dir(self, site: str) -> Path:
        return self.root / "sites" / site

    def files(self) -> set[str]:
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*") if "run" not in p.parts}


def bootstrapped_root(
    tmp_path_factory, name: str, *, steps: Mapping[str, Sequence[str]] | None = None
) -> Iterator[Server]:
    """Yield one bootstrapped root (trytond running, template built); stop trytond after.

    For a session fixture: `yield from bootstrapped_root(tmp_path_factory, "ops-root")`.
    `steps` is passed on to `run`. If stop_service.sh leaves trytond running, it is SIGKILLed.
    """
    root = tmp_path_factory.mktemp(name)
    port = free_port()
    try:
        boot = run(
            "bootstrap_server.sh",
            "--root", str(root), "--port", str(port), "--python", PYTHON,
            "--modules", "sale", "--no-systemd",
            steps=steps,
        )  # fmt: skip
        assert boot.ok, boot.text
        tpl = run(
            "build_template.sh", "--root", str(root), "--package", PACKAGE, "--modules", "sale",
            timeout=300, steps=steps,
        )  # fmt: skip
        assert tpl.ok, tpl.text
        yield Server(root=root, port=port)
    finally:
        run("stop_service.sh", "--root", str(root), steps=steps)
        pid_file = root / "run" / "trytond.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)


def rpc_login(server: Server, db: str, login: str, password: str) -> tuple[int, object]:
    """common.db.login over JSON-RPC: (HTTP status, result or error)."""
    body = json.dumps(
        {"id": 1, "method": "common.db.login", "params": [login, {"password": password}, "en"]}
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/{db}/rpc/",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (http://)
            answer = json.loads(response.read())
            return response.status, answer.get("result", answer.get("error"))
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, None


def assert_login_ok(server: Server, db: str, login: str, password: str) -> None:
    status, result = rpc_login(server, db, login, password)
    assert status == 200, (status, result)
    assert isinstance(result, list) and result[0] > 0 and len(result[1]) >= 32, result
