"""The ssh host driver: runs ops scripts on a tenant server over one reused SSH connection.

Key authentication only, against a pinned host key. The scripts folder is copied to the
server once per content hash (``~/.managely/scripts/<sha256>/``), so a run only opens a
channel: ``bash <that dir>/<script> <args…>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import shlex
import time
from pathlib import Path

import asyncssh

from managely.hosts.base import SCRIPTS_DIR, HostDriver, HostError, Outcome, ScriptOutput

log = logging.getLogger(__name__)

REMOTE_ROOT = ".managely/scripts"
COMPLETE_MARKER = ".complete"
CONNECTION_LOST = "connection lost"
GROUP_MARKER = "::managely-process-group"


class HostKeyRejected(HostError):
    """The server's host key is not the pinned one, or there is no pinned key to check."""


class AuthenticationFailed(HostError):
    """The server refused our key."""


class SshDriver(HostDriver):
    """Runs scripts on ``username@host:port``, at most ``max_concurrency`` at a time.

    ``known_host`` is the server's public key, or a known_hosts line holding it; the host
    names in such a line are ignored because this driver only ever talks to one server.
    Without it the driver refuses to connect unless ``trust_on_first_use`` is set, in which
    case the key the server presents is pinned (``fetch_host_key()`` returns it for storing).
    """

    # A connection idle longer than this is probed with `true` before a script is trusted to it.
    idle_recheck_s = 30.0
    health_timeout_s = 5.0
    kill_grace_s = 2.0

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        private_key_pem: str,
        known_host: str | None,
        scripts_dir: Path | str = SCRIPTS_DIR,
        max_concurrency: int = 4,
        connect_timeout: float = 10,
        *,
        trust_on_first_use: bool = False,
        remote_root: str = REMOTE_ROOT,
        keepalive_interval: float = 15,
    ) -> None:
        super().__init__(scripts_dir, max_concurrency)
        self.host, self.port, self.username = host, port, username
        self.connect_timeout = connect_timeout
        self.trust_on_first_use = trust_on_first_use
        self.remote_root = remote_root
        self.keepalive_interval = keepalive_interval
        self._client_key = asyncssh.import_private_key(private_key_pem)
        self._host_key = parse_host_key(known_host) if known_host else None
        self._conn: asyncssh.SSHClientConnection | None = None
        self._connecting = asyncio.Lock()
        self._syncing = asyncio.Lock()
        self._synced: tuple[asyncssh.SSHClientConnection, str] | None = None
        self._running = 0  # scripts with an open channel on the connection
        self._last_used = 0.0

    @property
    def where(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"

    async def _execute(
        self, script: str, args: list[str], stdin: bytes, output: ScriptOutput, timeout: float
    ) -> Outcome:
        conn, process = await self._start(script, args)
        self._running += 1
        try:
            return await self._follow(conn, process, stdin, output, timeout, script)
        finally:
            self._running -= 1
            self._last_used = time.monotonic()

    async def _start(
        self, script: str, args: list[str]
    ) -> tuple[asyncssh.SSHClientConnection, asyncssh.SSHClientProcess]:
        """Open the script's channel, reconnecting once if the connection turns out dead."""
        conn, fresh = await self._connection()
        try:
            return conn, await self._open(conn, script, args)
        except (asyncssh.Error, OSError) as exc:
            if fresh or not conn.is_closed():
                raise HostError(f"{self.where}: could not start {script}: {exc}") from exc
            self._discard(conn)
        conn, _ = await self._connection()
        try:
            return conn, await self._open(conn, script, args)
        except (asyncssh.Error, OSError) as exc:
            raise HostError(f"{self.where}: could not start {script}: {exc}") from exc

    async def _open(
        self, conn: asyncssh.SSHClientConnection, script: str, args: list[str]
    ) -> asyncssh.SSHClientProcess:
        remote_dir = await self._synced_dir(conn)
        # The arguments were validated already; quoting them is defence in depth. sshd makes
        # the command's shell a process group leader, and `exec` keeps that pid for bash, so
        # the marker names the group to kill on a timeout.
        script_command = shlex.join(["bash", f"{remote_dir}/{script}", *args])
        command = f"echo {GROUP_MARKER} $$; exec {script_command}"
        return await conn.create_process(command, stderr=asyncssh.STDOUT, encoding=None)

    async def _follow(
        self,
        conn: asyncssh.SSHClientConnection,
        process: asyncssh.SSHClientProcess,
        stdin: bytes,
        output: ScriptOutput,
        timeout: float,
        script: str,
    ) -> Outcome:
        """Feed the secrets, pump the output, and turn how it ended into an ``Outcome``."""
        deadline = asyncio.timeout(timeout)
        group: int | None = None
        try:
            async with deadline:
                output.bind(deadline, timeout)
                process.stdin.write(stdin)
                process.stdin.write_eof()
                group = await _process_group(process, output)
                await output.pump(process.stdout.read)
                await process.wait_closed()
        except TimeoutError:
            if not deadline.expired():
                raise
            reason = output.timeout_reason(timeout)
            log.warning("%s on %s: %s; killing it", script, self.where, reason)
            await self._stop(conn, process, group)
            code = process.returncode
            return Outcome(-1 if code is None else code, True, reason)
        except (asyncssh.Error, OSError):
            if not conn.is_closed():
                raise
        finally:
            if not process.is_closing():
                await self._stop(conn, process, group)  # cancelled, or on_event failed
        if conn.is_closed() and process.exit_status is None and process.exit_signal is None:
            log.warning("lost the connection to %s while %s was running", self.where, script)
            self._discard(conn)
            return Outcome(-1, reason=CONNECTION_LOST)
        return Outcome(-1 if process.returncode is None else process.returncode)

    async def _stop(
        self,
        conn: asyncssh.SSHClientConnection,
        process: asyncssh.SSHClientProcess,
        group: int | None,
    ) -> None:
        """Kill the script's process group (SIGTERM, then SIGKILL), then close the channel.

        The SSH "signal" request would be simpler, but OpenSSH ignores it for root logins.
        """
        for signal_name in ("TERM", "KILL"):
            if group is not None:
                with contextlib.suppress(asyncssh.Error, OSError):
                    async with asyncio.timeout(self.health_timeout_s):
                        await conn.run(f"kill -{signal_name} -- -{group}", check=False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait_closed(), self.kill_grace_s)
        process.close()

    async def check(self) -> bool:
        """Connect if needed and run `true`."""
        try:
            conn, _ = await self._connection()
            return await self._answers(conn)
        except (HostError, asyncssh.Error, OSError) as exc:
            log.warning("health check of %s failed: %s", self.where, exc)
            return False

    async def fetch_host_key(self) -> str:
        """Return the host key the server presents, as an OpenSSH public key line.

        With ``trust_on_first_use`` and no pinned key yet, the key is pinned for this driver;
        the caller should store it as the server's ``known_host``. A key that differs from
        the pinned one raises ``HostKeyRejected``.
        """
        try:
            async with asyncio.timeout(self.connect_timeout):
                key = await asyncssh.get_server_host_key(self.host, self.port, config=None)
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            raise HostError(f"{self.where}: could not fetch the host key: {exc}") from exc
        if key is None:
            raise HostKeyRejected(f"{self.where}: the server presented no host key")
        if self._host_key is None and self.trust_on_first_use:
            self._host_key = key
        elif self._host_key is not None and key != self._host_key:
            # Never hand a caller a replacement key to store: that is how a MITM gets pinned.
            raise HostKeyRejected(f"{self.where}: the server's host key is not the pinned one")
        return key.export_public_key().decode().strip()

    async def close(self) -> None:
        async with self._connecting:
            conn, self._conn, self._synced = self._conn, None, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.wait_closed(), self.health_timeout_s)

    async def _connection(self) -> tuple[asyncssh.SSHClientConnection, bool]:
        """Return the live connection (and whether it is new), connecting if needed."""
        async with self._connecting:
            conn = self._conn
            if conn is not None and not conn.is_closed() and await self._fresh_enough(conn):
                return conn, False
            if conn is not None:
                log.info("reconnecting to %s", self.where)
                self._discard(conn)
            self._conn = await self._connect()
            self._last_used = time.monotonic()
            return self._conn, True

    async def _fresh_enough(self, conn: asyncssh.SSHClientConnection) -> bool:
        # A server that vanished without closing the connection is only found out by talking
        # to it; doing that before each run would cost a round trip, so only after a while. A
        # connection with scripts running is not idle (keepalives watch it), and a slow probe
        # must not tear it down under them.
        idle = time.monotonic() - self._last_used
        return self._running > 0 or idle <= self.idle_recheck_s or await self._answers(conn)

    async def _answers(self, conn: asyncssh.SSHClientConnection) -> bool:
        try:
            async with asyncio.timeout(self.health_timeout_s):
                result = await conn.run("true", check=False)
        except (TimeoutError, asyncssh.Error, OSError):
            return False
        return result.exit_status == 0

    def _discard(self, conn: asyncssh.SSHClientConnection) -> None:
        conn.abort()
        if self._conn is conn:
            self._conn, self._synced = None, None

    async def _connect(self) -> asyncssh.SSHClientConnection:
        host_key = await self._trusted_host_key()
        try:
            return await asyncssh.connect(
                self.host,
                self.port,
                username=self.username,
                client_keys=[self._client_key],
                known_hosts=([host_key], [], []),
                # Nothing from this machine's ~/.ssh, agent or other methods takes part.
                config=None,
                agent_path=None,
                preferred_auth="publickey",
                password_auth=False,
                kbdint_auth=False,
                gss_host=None,
                connect_timeout=self.connect_timeout,
                keepalive_interval=self.keepalive_interval,
                keepalive_count_max=3,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            raise HostKeyRejected(
                f"{self.where}: the server's host key is not the pinned one ({exc.reason})"
            ) from exc
        except asyncssh.PermissionDenied as exc:
            raise AuthenticationFailed(
                f"{self.where}: the server refused our key for {self.username} ({exc.reason})"
            ) from exc
        except (asyncssh.Error, OSError) as exc:
            raise HostError(f"{self.where}: could not connect: {exc}") from exc

    async def _trusted_host_key(self) -> asyncssh.SSHKey:
        if self._host_key is None and self.trust_on_first_use:
            await self.fetch_host_key()
        if self._host_key is None:
            raise HostKeyRejected(
                f"{self.where}: no host key is stored for this server; refusing to connect"
            )
        return self._host_key

    async def _synced_dir(self, conn: asyncssh.SSHClientConnection) -> str:
        """The remote scripts folder for this connection, uploaded first if it is missing."""
        async with self._syncing:
            if self._synced is None or self._synced[0] is not conn:
                self._synced = (conn, await sync_scripts(conn, self.scripts_dir, self.remote_root))
            return self._synced[1]


async def _process_group(process: asyncssh.SSHClientProcess, output: ScriptOutput) -> int | None:
    """Read the marker line that names the script's process group on the server."""
    while line := await process.stdout.readline():
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        marker, _, group = text.partition(" ")
        if marker == GROUP_MARKER and group.isascii() and group.isdigit():
            return int(group)
        await output.add_line(text)  # a chatty login shell prints before our command runs
    return None


def parse_host_key(known_host: str) -> asyncssh.SSHKey:
    """Read a public key, or the key of a known_hosts line (``host[,host] type base64``)."""
    text = known_host.strip()
    with contextlib.suppress(asyncssh.KeyImportError, ValueError):
        return asyncssh.import_public_key(text)  # a bare public key; else a known_hosts line
    hosts, _, key = text.partition(" ")
    if hosts.startswith("@"):
        raise ValueError("known_host lines with @cert-authority or @revoked are not supported")
    try:
        return asyncssh.import_public_key(key.strip())
    except (asyncssh.KeyImportError, ValueError):
        raise ValueError("known_host is neither a public key nor a known_hosts line") from None


def scripts_digest(scripts_dir: Path) -> tuple[str, list[Path]]:
    """The sha256 of the folder's files (names and contents), and those files."""
    files = sorted(
        path
        for path in scripts_dir.rglob("*")
        if path.is_file()
        and not any(
            part.startswith(".") or part == "__pycache__"
            for part in path.relative_to(scripts_dir).parts
        )
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(scripts_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest(), files


async def sync_scripts(conn: asyncssh.SSHClientConnection, scripts_dir: Path, root: str) -> str:
    """Make sure ``<root>/<hash>/`` holds the scripts; return its absolute remote path.

    The upload goes to a private staging folder that is renamed into place once complete,
    so a script never runs from a half-written copy, even with several workers uploading.
    """
    digest, files = scripts_digest(scripts_dir)
    async with conn.start_sftp_client() as sftp:
        base = root if root.startswith("/") else f"{await sftp.realpath('.')}/{root}"
        target = f"{base}/{digest}"
        if await sftp.exists(f"{target}/{COMPLETE_MARKER}"):
            return target
        log.info("uploading %d scripts to %s", len(files), target)
        staging = f"{base}/.{digest}.{secrets.token_hex(4)}"
        try:
            await _upload(sftp, scripts_dir, files, staging)
            async with sftp.open(f"{staging}/{COMPLETE_MARKER}", "w") as marker:
                await marker.write(digest + "\n")
            await _move_into_place(sftp, staging, target)
        except BaseException:
            with contextlib.suppress(asyncssh.Error, OSError):
                await sftp.rmtree(staging)
            raise
    return target


async def _upload(
    sftp: asyncssh.SFTPClient, scripts_dir: Path, files: list[Path], staging: str
) -> None:
    await sftp.makedirs(staging)
    for path in files:
        remote = f"{staging}/{path.relative_to(scripts_dir)}"
        await sftp.makedirs(remote.rpartition("/")[0], exist_ok=True)
        await sftp.put(str(path), remote)
        await sftp.chmod(remote, 0o755 if path.suffix in (".sh", ".py") else 0o644)


async def _move_into_place(sftp: asyncssh.SFTPClient, staging: str, target: str) -> None:
    if await sftp.exists(target) and not await sftp.exists(f"{target}/{COMPLETE_MARKER}"):
        await sftp.rmtree(target)  # left by an interrupted upload of an older driver
    try:
        await sftp.rename(staging, target)
    except asyncssh.SFTPError:
        if not await sftp.exists(f"{target}/{COMPLETE_MARKER}"):
            raise
        await sftp.rmtree(staging)  # another worker finished the same upload first


def generate_keypair(comment: str = "managely") -> tuple[str, str]:
    """A new ed25519 key for onboarding a server: (private key, OpenSSH public key line)."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    return key.export_private_key().decode(), key.export_public_key().decode().strip()
