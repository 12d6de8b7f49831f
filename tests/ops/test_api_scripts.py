"""The platform's money scripts are thin: recharge_wallet.sh calls the JSON API with the token
from the environment, process_invoices.sh calls the ``managely`` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "ops" / "scripts"
TOKEN = "mgy_" + "a" * 43


class FakeApi(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeApi.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            answer, status = {"error": {"code": "unauthenticated", "message": "No."}}, 401
        else:
            answer = {"payment": "p2345678abcd", "amount_minor": 2500, "currency": "USD",
                      "approve_url": "https://paypal.example/approve?token=X"}  # fmt: skip
            status = 201
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


def _run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_recharge_wallet_posts_to_the_api_with_the_token_from_the_environment():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = f"http://127.0.0.1:{server.server_port}"
        args = ("--amount", "25.00", "--currency", "USD", "--key", "topup-1", "--api", api)
        done = _run("recharge_wallet.sh", *args, MANAGELY_API_TOKEN=TOKEN)
        refused = _run("recharge_wallet.sh", *args, MANAGELY_API_TOKEN="mgy_wrong")
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "::result payment=p2345678abcd" in done.stdout
    assert "::result approve_url=https://paypal.example/approve?token=X" in done.stdout
    first = FakeApi.seen[0]
    assert first["path"] == "/api/v1/wallet/recharge"
    assert first["body"] == {"amount": "25.00", "currency": "USD"}
    assert first["headers"]["Idempotency-Key"] == "topup-1"
    assert refused.returncode == 1 and "::error the API refused" in refused.stdout


def test_recharge_wallet_refuses_bad_input_before_calling_anything():
    missing = _run(
        "recharge_wallet.sh", "--amount", "5", "--currency", "USD", MANAGELY_API_TOKEN=""
    )
    assert "::error MANAGELY_API_TOKEN is not set" in missing.stdout
    bad = _run("recharge_wallet.sh", "--amount", "5;rm", "--currency", "USD")
    assert bad.returncode == 1 and "::error invalid amount" in bad.stdout


def test_process_invoices_calls_the_cli_and_reports_the_count(tmp_path):
    fake = tmp_path / "managely"
    fake.write_text(
        '#!/usr/bin/env bash\necho "$*" > "$(dirname "$0")/args"\necho "invoices drawn: 3"\n'
    )
    fake.chmod(0o755)
    done = _run("process_invoices.sh", "--limit", "50", "--managely", str(fake))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "::result drawn=3" in done.stdout
    assert (tmp_path / "args").read_text().strip() == "invoices process --limit 50"
