"""A real OpenSSH server on loopback, in a throw-away folder, for tests that need SSH.

``SshServer(workdir).start()`` generates a host key and a client key with ``ssh-keygen``,
writes an ``sshd_config`` that accepts only that client key for the current user, and runs
``sshd -D -e`` on a free port. ``stop()`` ends it. Other tests may use it too::

    from tests.hosts.sshd import SshServer
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT_S = 10.0


def sshd_missing_reason() -> str | None:
    """Why a real sshd cannot run here, or None when it can."""
    if not SSHD.exists():
        return f"{SSHD} is not installed (apt-get install openssh-server)"
    if not Path("/usr/bin/ssh-keygen").exists():
        return "ssh-keygen is not installed"
    return None


class SshServer:
    """One sshd process; read ``host``, ``port``, ``user``, the keys, after ``start()``."""

    host = "127.0.0.1"

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.user = getpass.getuser()
        self.port = 0
        self.client_key_pem = ""
        self.client_public_key = ""
        self.host_key_line = ""  # known_hosts format: "[127.0.0.1]:<port> ssh-ed25519 AAAA…"
        self.host_public_key = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> SshServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        host_key = self._keygen("host_key")
        client_key = self._keygen("client_key")
        self.client_key_pem = client_key.read_text()
        self.client_public_key = client_key.with_suffix(".pub").read_text().strip()
        self.host_public_key = host_key.with_suffix(".pub").read_text().strip()
        authorized = self.workdir / "authorized_keys"
        authorized.write_text(self.client_public_key + "\n")
        authorized.chmod(0o600)
        self.port = _free_port()
        self.host_key_line = f"[{self.host}]:{self.port} {self.host_public_key}"
        config = self._write_config(host_key, authorized)
        # sshd refuses to start without its privilege separation folder.
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        log = (self.workdir / "sshd.log").open("ab")
        self._process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=log
        )
        log.close()
        self._wait_until_listening()
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        for pid in self.session_pids():
            _kill(pid, signal.SIGKILL)
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def session_pids(self) -> list[int]:
        """Every process sshd started for connections (monitors, sessions, their commands)."""
        if self._process is None:
            return []
        children = _children_by_parent()
        found, pending = [], [self._process.pid]
        while pending:
            for child in children.get(pending.pop(), []):
                found.append(child)
                pending.append(child)
        return found

    def drop_connections(self) -> None:
        """Kill sshd's per-connection processes: clients see the connection reset."""
        for pid in self.session_pids():
            _kill(pid, signal.SIGKILL)

    def freeze_connections(self) -> list[int]:
        """Stop (SIGSTOP) the per-connection processes: connections go silent, not closed."""
        pids = self.session_pids()
        for pid in pids:
            _kill(pid, signal.SIGSTOP)
        return pids

    @property
    def log(self) -> str:
        return (self.workdir / "sshd.log").read_text(errors="replace")

    def _keygen(self, name: str) -> Path:
        path = self.workdir / name
        if not path.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
                check=True,
            )
        return path

    def _write_config(self, host_key: Path, authorized: Path) -> Path:
        config = self.workdir / "sshd_config"
        config.write_text(
            f"""\
Port {self.port}
ListenAddress {self.host}
HostKey {host_key}
PidFile {self.workdir / "sshd.pid"}
AuthorizedKeysFile {authorized}
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {self.user}
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
MaxSessions 20
LogLevel VERBOSE
Subsystem sftp internal-sftp
"""
        )
        return config

    def _wait_until_listening(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"sshd exited with {self._process.returncode}:\n{self.log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"sshd did not listen on port {self.port}:\n{self.log}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
