"""The local host driver: runs ops scripts as subprocesses of this machine.

Used by ``managely dev`` and the tests. Each script gets its own process group, so a timeout
or a cancelled run kills everything the script started, not only bash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
from pathlib import Path

from managely.hosts.base import SCRIPTS_DIR, HostDriver, Outcome, ScriptOutput

log = logging.getLogger(__name__)

# Time a script gets to exit after SIGTERM before its process group is sent SIGKILL.
KILL_GRACE_S = 2.0
# After the script exits, how long its output may take to drain. A background child that
# inherited stdout keeps the pipe open forever; it must not hold the run hostage.
DRAIN_S = 1.0
EXIT_POLL_S = 0.1


class LocalDriver(HostDriver):
    """Runs ``bash <scripts_dir>/<script> <args…>`` with a minimal environment."""

    def __init__(self, scripts_dir: Path | str = SCRIPTS_DIR, max_concurrency: int = 4) -> None:
        super().__init__(scripts_dir, max_concurrency)
        self._bash = shutil.which("bash") or "/bin/bash"
        # Nothing from the control plane's environment (database URLs, keys) leaks in.
        self._env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "LANG": "C.UTF-8",
        }

    async def _execute(
        self, script: str, args: list[str], stdin: bytes, output: ScriptOutput, timeout: float
    ) -> Outcome:
        process = await asyncio.create_subprocess_exec(
            self._bash,
            str(self.scripts_dir / script),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self._env,
            start_new_session=True,
        )
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                output.bind(deadline, timeout)
                await _feed_stdin(process, stdin)
                return Outcome(await _wait_and_pump(process, output))
        except TimeoutError:
            if not deadline.expired():
                raise
            reason = output.timeout_reason(timeout)
            log.warning("%s: %s; killing it", script, reason)
            code = await _kill_group(process)
            return Outcome(code, timed_out=True, reason=reason)
        finally:
            # Cancelled, or the caller's on_event failed: the script must not outlive the run.
            if process.returncode is None:
                await _kill_group(process)
            _close_pipes(process)

    async def check(self) -> bool:
        """The scripts are there and bash starts."""
        if not self.scripts_dir.is_dir():
            return False
        process = await asyncio.create_subprocess_exec(self._bash, "-c", "true", env=self._env)
        return await process.wait() == 0


async def _feed_stdin(process: asyncio.subprocess.Process, data: bytes) -> None:
    assert process.stdin is not None
    # A script that exits without reading its secrets is not an error of ours.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.write(data)
        await process.stdin.drain()
    process.stdin.close()


async def _wait_and_pump(process: asyncio.subprocess.Process, output: ScriptOutput) -> int:
    """Pump output until the script exits; return its exit code."""
    assert process.stdout is not None
    pumping = asyncio.create_task(output.pump(process.stdout.read))
    exiting = asyncio.create_task(_exit_code(process))
    try:
        await asyncio.wait({pumping, exiting}, return_when=asyncio.FIRST_COMPLETED)
        if pumping.done():
            pumping.result()  # end of output, or the caller's on_event failed: raise that now
            return await process.wait()
        await asyncio.wait({pumping}, timeout=DRAIN_S)
        if pumping.done():
            pumping.result()
        else:
            log.warning("a background process of the script still holds its output; detached")
        return exiting.result()
    finally:
        for task in (pumping, exiting):
            task.cancel()
        await asyncio.gather(pumping, exiting, return_exceptions=True)


async def _exit_code(process: asyncio.subprocess.Process) -> int:
    # Process.wait() also waits for the pipes to close, which a leftover child can prevent;
    # the return code itself is known as soon as bash exits, and asyncio offers no event.
    while process.returncode is None:  # noqa: ASYNC110
        await asyncio.sleep(EXIT_POLL_S)
    return process.returncode


def _close_pipes(process: asyncio.subprocess.Process) -> None:
    # asyncio closes a subprocess transport only once every pipe has reached end of file; a
    # pipe held open by a leftover child, or never read to the end, would leak the transport.
    process._transport.close()  # type: ignore[attr-defined]


async def _kill_group(process: asyncio.subprocess.Process) -> int:
    """SIGTERM the script's process group, then SIGKILL whatever is left; reap bash."""
    _signal_group(process, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_exit_code(process), KILL_GRACE_S)
    # Children that ignored SIGTERM (or outlived bash) go too.
    _signal_group(process, signal.SIGKILL)
    return await _exit_code(process)


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    # start_new_session=True made the script's pid its process group id.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
