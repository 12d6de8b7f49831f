"""What every host driver shares: the script output protocol, argument checks, redaction.

A driver runs one ``ops/scripts`` script with validated argv items, hands it secrets on
standard input, and turns its merged stdout/stderr into ``ScriptEvent``s as the lines arrive,
so a caller can store progress while the script is still running. The protocol and calling
convention are described in ``ops/scripts/README.md``.
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

SCRIPTS_DIR = Path(__file__).resolve().parents[3] / "ops" / "scripts"
NO_SECRETS: Mapping[str, str] = MappingProxyType({})

SAFE_ARG = re.compile(r"[A-Za-z0-9._,:/=@+-]{1,255}")
SCRIPT_NAME = re.compile(r"[a-z_]+\.sh")
SECRET_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
RESULT_KEY = re.compile(r"[A-Za-z0-9_.-]+")
PERCENT = re.compile(r"[0-9]{1,3}")

LOG_TAIL_LINES = 50
# A script that never prints a newline must not grow a line without bound in our memory.
MAX_LINE_BYTES = 64 * 1024
TRUNCATED = " [truncated]"
REDACTED = "[redacted]"
MIN_SECRET_LEN = 4

EventKind = Literal["step", "progress", "result", "error", "log"]
EventHandler = Callable[["ScriptEvent"], Awaitable[None]]


class UnsafeArgument(ValueError):
    """An argv item, secret or script name that must not reach a shell script."""


class UnknownScript(UnsafeArgument):
    """The script name is well-formed but no such script exists in the scripts folder."""


class HostError(ConnectionError):
    """The host could not be reached or would not let us in; the script did not start."""


@dataclass(frozen=True)
class ScriptEvent:
    """One line of script output, classified by the protocol; ``key`` is set for results."""

    kind: EventKind
    text: str
    key: str = ""

    @property
    def percent(self) -> int | None:
        return int(self.text) if self.kind == "progress" else None


def parse_line(line: str) -> ScriptEvent:
    """Classify one (already redacted) output line; anything malformed is a log line."""
    if line.startswith("::"):
        directive, _, rest = line[2:].partition(" ")
        rest = rest.strip()
        if directive == "step" and rest:
            return ScriptEvent("step", rest)
        if directive == "progress" and PERCENT.fullmatch(rest) and int(rest) <= 100:
            return ScriptEvent("progress", str(int(rest)))
        if directive == "result":
            key, equals, value = rest.partition("=")
            if equals and RESULT_KEY.fullmatch(key):
                return ScriptEvent("result", value, key=key)
        if directive == "error" and rest:
            return ScriptEvent("error", rest)
    return ScriptEvent("log", line)


@dataclass(frozen=True)
class ScriptRun:
    """How a script run ended, with what it reported along the way."""

    exit_code: int
    results: dict[str, str]
    error: str
    last_step: str
    log_tail: list[str]
    timed_out: bool
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass(frozen=True)
class Outcome:
    """What a driver knows when the script is gone; ``reason`` overrides the script's error."""

    exit_code: int
    timed_out: bool = False
    reason: str = ""


def validate_args(args: Sequence[str]) -> None:
    """Refuse any argv item that is not a plain, short, ASCII word of the safe characters.

    Scripts never see a shell string, but they pass arguments on to other programs; a strict
    allow-list here is what keeps a hostile subdomain from becoming a path or an option value
    that means something else. Two dots in a row are refused anywhere, not only as a path
    segment: no legitimate argument (name, domain, version, path) needs them.
    """
    if isinstance(args, str | bytes):
        raise UnsafeArgument("args must be a list of strings, not a single string")
    for arg in args:
        if not isinstance(arg, str) or not SAFE_ARG.fullmatch(arg) or ".." in arg:
            raise UnsafeArgument(f"unsafe script argument: {_shorten(arg)}")


def validate_script(script: str, scripts_dir: Path) -> Path:
    """Return the script's path, refusing odd names and scripts that do not exist."""
    if not isinstance(script, str) or not SCRIPT_NAME.fullmatch(script):
        raise UnsafeArgument(f"unsafe script name: {_shorten(script)}")
    path = scripts_dir / script
    if not path.is_file():
        raise UnknownScript(f"no script {script} in {scripts_dir}")
    return path


def secrets_input(secrets: Mapping[str, str]) -> bytes:
    """Encode secrets as the ``NAME=value`` lines a script's ``read_secrets`` expects."""
    lines = []
    for name, value in secrets.items():
        if not isinstance(name, str) or not SECRET_NAME.fullmatch(name):
            raise UnsafeArgument(f"unsafe secret name: {_shorten(name)}")
        # A newline in a value would smuggle in a second NAME=value line.
        if not isinstance(value, str) or any(c in value for c in "\n\r\0"):
            raise UnsafeArgument(f"secret {name} must be a single-line string")
        lines.append(f"{name}={value}\n")
    return "".join(lines).encode()


def _shorten(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Redactor:
    """Replaces every secret value (4 characters or more) in a line with ``[redacted]``."""

    def __init__(self, secrets: Mapping[str, str] | Iterable[str]) -> None:
        values = secrets.values() if isinstance(secrets, Mapping) else secrets
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({v for v in values if len(v) >= MIN_SECRET_LEN}, key=len)[::-1]
        alternatives = "|".join(re.escape(s) for s in self._secrets)
        self._pattern = re.compile(alternatives) if alternatives else None

    def __call__(self, line: str) -> str:
        return self._pattern.sub(REDACTED, line) if self._pattern else line

    def cut(self, line: str) -> str:
        """Redact a line that was cut short: a secret's beginning at the cut is dropped too."""
        line = self(line)
        for secret in self._secrets:
            for length in range(len(secret) - 1, 0, -1):
                if line.endswith(secret[:length]):
                    line = line[:-length]
                    break
        return line


class LineSplitter:
    """Turns chunks of bytes into text lines, cutting lines longer than ``MAX_LINE_BYTES``."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._max_line = max_line
        self._buffer = bytearray()
        self._skipping = False  # inside the rest of a line that was already cut

    def feed(self, chunk: bytes) -> list[tuple[str, bool]]:
        """Return the complete lines in ``chunk`` as (text, was_cut) pairs."""
        self._buffer += chunk
        lines = []
        while (newline := self._buffer.find(b"\n")) != -1:
            line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            if self._skipping:
                self._skipping = False
            else:
                lines.append(self._line(line))
        if self._skipping:
            self._buffer.clear()
        elif len(self._buffer) > self._max_line:
            lines.append(self._line(bytes(self._buffer)))
            self._skipping = True
            self._buffer.clear()
        return lines

    def finish(self) -> list[tuple[str, bool]]:
        """Return the last line when the stream ended without a newline."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        return [self._line(rest)] if rest and not self._skipping else []

    def _line(self, line: bytes) -> tuple[str, bool]:
        was_cut = len(line) > self._max_line
        text = line[: self._max_line].decode("utf-8", errors="replace")
        return text.removesuffix("\r"), was_cut


@dataclass
class ScriptOutput:
    """Collects one run's output: redacts each line, classifies it, tells the caller."""

    redact: Redactor
    on_event: EventHandler | None = None
    # Each ``::step`` gets this long; the whole run still ends at the run's own timeout.
    step_timeout: float | None = None
    log_tail: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))
    results: dict[str, str] = field(default_factory=dict)
    error: str = ""
    last_step: str = ""
    _splitter: LineSplitter = field(default_factory=LineSplitter)
    _deadline: asyncio.Timeout | None = None
    _run_ends_at: float = 0.0
    _step_bound: bool = False  # the deadline now armed is the step's, not the run's

    def bind(self, deadline: asyncio.Timeout, timeout: float) -> None:
        """Let step lines move ``deadline`` (entered, covering the run's ``timeout``)."""
        self._deadline = deadline
        self._run_ends_at = asyncio.get_running_loop().time() + timeout
        self._arm_step()

    def _arm_step(self) -> None:
        if self._deadline is None or self.step_timeout is None:
            return
        step_ends_at = asyncio.get_running_loop().time() + self.step_timeout
        self._step_bound = step_ends_at < self._run_ends_at
        self._deadline.reschedule(min(step_ends_at, self._run_ends_at))

    def timeout_reason(self, timeout: float) -> str:
        """Why a run that hit its deadline was stopped, naming the step when it was one."""
        if self._step_bound:
            step = self.last_step or "start"
            return f"step {step} timed out after {self.step_timeout:g} s"
        return f"timed out after {timeout:g} s"

    async def pump(self, read: Callable[[int], Awaitable[bytes]]) -> None:
        """Read the merged stdout/stderr until end of file, line by line as it arrives."""
        while chunk := await read(65536):
            for line, was_cut in self._splitter.feed(chunk):
                await self.add_line(line, was_cut)
        for line, was_cut in self._splitter.finish():
            await self.add_line(line, was_cut)

    async def add_line(self, raw: str, was_cut: bool = False) -> None:
        """Take one line of output as the script printed it."""
        # Redact before anything else looks at the line: parsing, the tail, the caller.
        line = self.redact.cut(raw) + TRUNCATED if was_cut else self.redact(raw)
        self.log_tail.append(line)
        event = parse_line(line)
        if event.kind == "step":
            self.last_step = event.text
            self._arm_step()
        elif event.kind == "result":
            self.results[event.key] = event.text
        elif event.kind == "error":
            self.error = event.text
        if self.on_event is not None:
            await self.on_event(event)

    def script_run(self, outcome: Outcome, duration_s: float) -> ScriptRun:
        return ScriptRun(
            exit_code=outcome.exit_code,
            results=dict(self.results),
            error=outcome.reason or self.error,
            last_step=self.last_step,
            log_tail=list(self.log_tail),
            timed_out=outcome.timed_out,
            duration_s=round(duration_s, 3),
        )


class HostDriver(ABC):
    """Runs ops scripts on one host, at most ``max_concurrency`` at a time.

    A driver belongs to the event loop that first uses it (its semaphore and, for ssh, its
    connection are bound to that loop).
    """

    def __init__(self, scripts_dir: Path | str = SCRIPTS_DIR, max_concurrency: int = 4) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.scripts_dir = Path(scripts_dir)
        self.max_concurrency = max_concurrency
        self._slots = asyncio.Semaphore(max_concurrency)

    async def run(
        self,
        script: str,
        args: Sequence[str] = (),
        *,
        secrets: Mapping[str, str] = NO_SECRETS,
        timeout: float = 600,
        step_timeout: float | None = None,
        on_event: EventHandler | None = None,
    ) -> ScriptRun:
        """Run ``script`` with ``args``; secrets go to its stdin, never to argv or the logs.

        Everything is validated before anything starts. ``on_event`` is awaited for each
        output line as it arrives. ``timeout`` covers the script itself, not the wait for a
        concurrency slot nor connecting; when it expires the script's process group is killed
        and ``timed_out`` is set. ``step_timeout`` bounds each ``::step`` (and what the
        script does before its first step) within that. Raises ``HostError`` when the host cannot be reached (the
        script did not start).
        """
        validate_script(script, self.scripts_dir)
        validate_args(args)
        stdin = secrets_input(secrets)
        output = ScriptOutput(Redactor(secrets), on_event, step_timeout=step_timeout)
        async with self._slots:
            started = time.monotonic()
            outcome = await self._execute(script, list(args), stdin, output, timeout)
        return output.script_run(outcome, time.monotonic() - started)

    @abstractmethod
    async def _execute(
        self, script: str, args: list[str], stdin: bytes, output: ScriptOutput, timeout: float
    ) -> Outcome:
        """Start the script, feed ``stdin``, pump its output into ``output``, reap it."""

    @abstractmethod
    async def check(self) -> bool:
        """Whether the host is reachable and can run a command right now."""

    async def close(self) -> None:  # noqa: B027 - a hook: only some drivers hold anything open
        """Release whatever the driver holds open (connections); it may be used again."""

    async def __aenter__(self) -> HostDriver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
