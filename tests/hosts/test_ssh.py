"""The ssh driver against a real OpenSSH server on loopback (the "server" is this machine)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from managely.hosts.ssh import (
    CONNECTION_LOST,
    AuthenticationFailed,
    HostKeyRejected,
    SshDriver,
    generate_keypair,
    parse_host_key,
    scripts_digest,
)
from tests.hosts.sshd import SshServer
from tests.hosts.support import SCRIPTS, SECRET, EventLog, wait_until_gone

MakeDriver = Callable[..., SshDriver]


@pytest.fixture
async def make_driver(ssh_server: SshServer, tmp_path: Path) -> AsyncIterator[MakeDriver]:
    """Build drivers for the test sshd (any argument overridable); all are closed after."""
    drivers: list[SshDriver] = []

    def make(**overrides: object) -> SshDriver:
        options: dict = {
            "host": ssh_server.host,
            "port": ssh_server.port,
            "username": ssh_server.user,
            "private_key_pem": ssh_server.client_key_pem,
            "known_host": ssh_server.host_key_line,
            "scripts_dir": SCRIPTS,
            "remote_root": str(tmp_path / "remote"),
        }
        drivers.append(SshDriver(**(options | overrides)))
        return drivers[-1]

    yield make
    for driver in drivers:
        await driver.close()


async def test_it_streams_events_and_redacts_secrets(make_driver: MakeDriver) -> None:
    events = EventLog()
    run = await make_driver().run(
        "progress.sh", ["0.3"], secrets={"DB_PASSWORD": SECRET}, on_event=events
    )
    finished = time.monotonic()

    assert run.ok
    assert events.of_kind("step") == ["prepare", "install"]
    assert events.of_kind("progress") == ["10", "60", "100"]
    assert finished - events.arrivals[0] >= 0.5  # arrived while the script was still running
    assert run.results == {"url": "http://example.test/site/", "db_password": "[redacted]"}
    assert "warning: password [redacted] is on stderr" in run.log_tail
    assert f"connecting with password [redacted] ({len(SECRET)} characters)" in run.log_tail
    everything = [e.text for e in events.events] + run.log_tail
    assert not [text for text in everything if SECRET in text]


async def test_it_reports_a_failing_script(make_driver: MakeDriver) -> None:
    run = await make_driver().run("fail.sh")

    assert (run.exit_code, run.error, run.last_step) == (3, "database is locked", "migrate")


async def test_it_passes_arguments_verbatim(make_driver: MakeDriver, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    args = ["--root=/srv/x", "a,b", "user@host", "+1", "-n", "x=y:z"]

    run = await make_driver().run("args.sh", ["--marker", str(marker), *args])

    assert run.ok and marker.exists()
    assert run.log_tail == args


async def test_it_uploads_the_scripts_once(make_driver: MakeDriver, tmp_path: Path) -> None:
    digest, _ = scripts_digest(SCRIPTS)
    remote = tmp_path / "remote" / digest
    driver = make_driver()

    assert (await driver.run("args.sh")).ok
    uploaded = (remote / ".complete").stat()
    assert (await driver.run("args.sh")).ok
    assert (await make_driver().run("args.sh")).ok  # a new connection finds the upload

    again = (remote / ".complete").stat()
    assert (again.st_ino, again.st_mtime_ns) == (uploaded.st_ino, uploaded.st_mtime_ns)
    assert (remote / "progress.sh").read_bytes() == (SCRIPTS / "progress.sh").read_bytes()
    assert (remote / "progress.sh").stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == [digest]


async def test_it_refuses_a_server_with_another_host_key(
    make_driver: MakeDriver, tmp_path: Path
) -> None:
    _, other_public_key = generate_keypair()
    marker = tmp_path / "ran"
    driver = make_driver(known_host=other_public_key)

    with pytest.raises(HostKeyRejected, match="not the pinned one"):
        await driver.run("args.sh", ["--marker", str(marker)])
    assert not marker.exists()
    assert not await driver.check()
    with pytest.raises(HostKeyRejected, match="not the pinned one"):
        await driver.fetch_host_key()


async def test_it_refuses_to_connect_without_a_stored_host_key(
    make_driver: MakeDriver, ssh_server: SshServer
) -> None:
    with pytest.raises(HostKeyRejected, match="no host key is stored"):
        await make_driver(known_host=None).run("args.sh")

    trusting = make_driver(known_host=None, trust_on_first_use=True)
    host_key = await trusting.fetch_host_key()
    assert host_key.split()[:2] == ssh_server.host_public_key.split()[:2]
    assert (await trusting.run("args.sh")).ok
    assert (await make_driver(known_host=host_key).run("args.sh")).ok


def test_it_reads_host_keys_in_either_form(ssh_server: SshServer) -> None:
    from_line = parse_host_key(ssh_server.host_key_line)
    assert from_line == parse_host_key(ssh_server.host_public_key)
    with pytest.raises(ValueError, match="neither"):
        parse_host_key("127.0.0.1 not-a-key")


async def test_it_reports_a_refused_client_key(
    make_driver: MakeDriver, ssh_server: SshServer
) -> None:
    private_key, _ = generate_keypair()
    driver = make_driver(private_key_pem=private_key)

    with pytest.raises(AuthenticationFailed, match=f"refused our key for {ssh_server.user}"):
        await driver.run("args.sh")
    assert not await driver.check()


async def test_it_survives_a_dropped_connection(
    make_driver: MakeDriver, ssh_server: SshServer
) -> None:
    driver = make_driver()
    events = EventLog()
    running = asyncio.create_task(driver.run("slow.sh", ["5"], on_event=events))
    child = int(await events.result("child_pid"))

    ssh_server.drop_connections()
    started = time.monotonic()
    run = await asyncio.wait_for(running, 5)

    assert time.monotonic() - started < 2
    assert (run.exit_code, run.error) == (-1, CONNECTION_LOST)
    assert await wait_until_gone(child)
    assert (await driver.run("args.sh", ["after"])).log_tail == ["after"]


async def test_it_replaces_an_idle_connection_that_stopped_answering(
    make_driver: MakeDriver, ssh_server: SshServer
) -> None:
    driver = make_driver()
    driver.idle_recheck_s = 0  # every run after a pause probes the connection first
    driver.health_timeout_s = 0.5
    assert (await driver.run("args.sh")).ok
    frozen = ssh_server.freeze_connections()
    try:
        started = time.monotonic()
        assert (await driver.run("args.sh", ["again"])).log_tail == ["again"]
        assert time.monotonic() - started < 3
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGKILL)


async def test_it_notices_a_silent_server_during_a_script(
    make_driver: MakeDriver, ssh_server: SshServer
) -> None:
    driver = make_driver(keepalive_interval=0.3)
    events = EventLog()
    running = asyncio.create_task(driver.run("slow.sh", ["30"], on_event=events))
    child = int(await events.result("child_pid"))
    frozen = ssh_server.freeze_connections()
    try:
        run = await asyncio.wait_for(running, 5)
        assert (run.exit_code, run.error) == (-1, CONNECTION_LOST)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGKILL)
    assert await wait_until_gone(child)
    assert (await driver.run("args.sh")).ok


@pytest.mark.parametrize(("cap", "at_least", "below"), [(1, 1.6, 9), (2, 0.8, 1.6)])
async def test_it_caps_concurrent_scripts(
    make_driver: MakeDriver, cap: int, at_least: float, below: float
) -> None:
    driver = make_driver(max_concurrency=cap)
    assert (await driver.run("args.sh")).ok  # connect and upload outside the measurement
    started = time.monotonic()
    runs = await asyncio.gather(*(driver.run("slow.sh", ["0.8"]) for _ in range(2)))

    assert all(run.ok for run in runs)
    assert at_least <= time.monotonic() - started < below


async def test_it_kills_a_script_that_times_out(make_driver: MakeDriver) -> None:
    driver = make_driver()
    started = time.monotonic()
    run = await driver.run("slow.sh", ["30"], timeout=1)

    assert time.monotonic() - started < 3
    assert run.timed_out and run.exit_code != 0
    assert run.error == "timed out after 1 s"
    assert await wait_until_gone(int(run.results["child_pid"]))
    assert (await driver.run("args.sh")).ok  # the connection is still fine


async def test_a_step_that_overruns_its_timeout_is_stopped(make_driver: MakeDriver) -> None:
    driver = make_driver()
    run = await driver.run("timed_steps.sh", ["0.6", "0.6", "0.6"], timeout=10, step_timeout=1)
    assert run.ok and run.results["steps"] == "3"
    run = await driver.run("timed_steps.sh", ["0.2", "30"], timeout=10, step_timeout=1)
    assert run.timed_out and run.error == "step s2 timed out after 1 s"
    assert (await driver.run("args.sh")).ok


async def test_it_checks_the_host(make_driver: MakeDriver) -> None:
    assert await make_driver().check()
    assert not await make_driver(port=1).check()


async def test_a_relative_remote_root_is_under_the_login_home(
    make_driver: MakeDriver, tmp_path: Path
) -> None:
    digest, _ = scripts_digest(SCRIPTS)
    relative = os.path.relpath(tmp_path / "in-home", Path.home())

    assert (await make_driver(remote_root=relative).run("args.sh")).ok
    assert (tmp_path / "in-home" / digest / ".complete").read_text() == digest + "\n"
