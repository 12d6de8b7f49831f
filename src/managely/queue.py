"""The broker, the ``actor`` decorator and ``enqueue``, which sends only after commit.

It lives outside ``managely.jobs`` so services can enqueue by actor name without importing
the actor modules (which import the services).

Redis when ``MANAGELY_REDIS_URL`` is set, Dramatiq's in-memory broker otherwise. Actors are
async functions; they run on an event loop the ``EventLoop`` middleware provides: a thread of
its own in the ``dramatiq`` worker process, or the web app's loop in ``managely dev`` (so the
ORM connections are never shared across loops).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread, set_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware

from managely import db
from managely.settings import Settings, get_settings

log = logging.getLogger(__name__)


class SharedLoop(EventLoopThread):
    """Dramatiq's loop-thread interface over a loop that is already running elsewhere."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        threading.Thread.__init__(self, daemon=True)
        self.loop = loop
        self.logger = log
        self.interrupt_check_ival = 0.1

    def start(self, *, timeout: float | None = None) -> None:
        """The loop belongs to its owner, who started it."""

    def stop(self) -> None:
        """The loop belongs to its owner, who stops it."""

    def run_coroutine(self, coro):  # type: ignore[override]
        # A loop driven by run_until_complete (tests) pauses between calls: wait, don't fail.
        while not self.loop.is_running():
            if self.loop.is_closed():
                coro.close()
                raise RuntimeError("the shared event loop is closed")
            time.sleep(0.01)
        return super().run_coroutine(coro)


class EventLoop(Middleware):
    """Gives async actors a loop: a shared one when set, else a new thread with the ORM."""

    def __init__(self) -> None:
        self.shared: asyncio.AbstractEventLoop | None = None
        self._own: EventLoopThread | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.shared is not None:
            set_event_loop_thread(SharedLoop(self.shared))
            return
        self._own = EventLoopThread(log)
        self._own.start(timeout=5.0)
        set_event_loop_thread(self._own)
        self._own.run_coroutine(db.init(get_settings()))

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._own is not None:
            self._own.run_coroutine(db.close())
            self._own.stop()
            self._own = None
        set_event_loop_thread(None)


class JobFailed(RuntimeError):
    """An actor raised while someone was waiting for the jobs to finish."""


class InFlight(Middleware):
    """Counts messages this process sent that have not finished, so callers can wait idle.

    Failures are kept too, so a test waiting for its jobs hears about a broken actor at once
    instead of waiting out its retries.
    """

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()
        self.failures: list[tuple[str, BaseException]] = []

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int | None) -> None:
        # A delayed message is counted when it comes due: the worker enqueues it again then.
        if delay:
            return
        with self._lock:
            self._count += 1

    def _done(self) -> None:
        with self._lock:
            self._count -= 1

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        if exception is not None:
            with self._lock:
                self.failures.append((message.actor_name, exception))
        self._done()

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._done()

    @property
    def count(self) -> int:
        return self._count

    async def wait_idle(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self._count > 0 and not self.failures:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self._count} job(s) still running after {timeout}s")
            await asyncio.sleep(0.01)
        if self.failures:
            with self._lock:
                (name, error), self.failures = self.failures[0], []
            raise JobFailed(f"job {name} failed: {error!r}") from error


event_loop = EventLoop()
in_flight = InFlight()


def build_broker(settings: Settings, namespace: str = "managely") -> dramatiq.Broker:
    broker: dramatiq.Broker
    if settings.redis_url:
        broker = RedisBroker(url=settings.redis_url, namespace=namespace)
    else:
        broker = StubBroker()
    broker.add_middleware(event_loop)
    broker.add_middleware(in_flight)
    return broker


def setup_broker(settings: Settings, namespace: str = "managely") -> dramatiq.Broker:
    """Make the process's broker and move every declared actor onto it."""
    global _current
    previous, broker = _current, build_broker(settings, namespace)
    dramatiq.set_broker(broker)
    _current = broker
    for declared in _declared:
        declared.broker = broker
        broker.declare_actor(declared)
    if previous is not None:
        previous.close()
    return broker


_declared: list[dramatiq.Actor] = []
_current: dramatiq.Broker | None = None


def actor(name: str, *, queue: str = "default", **options: Any) -> Callable:
    """Declare an async actor ``domain.verb``; ``.run`` is the coroutine, for tests."""

    # Operations retry through their own state machine; plain jobs retry a few times, quickly.
    options = {"max_retries": 3, "min_backoff": 1000, "max_backoff": 60_000, **options}

    def decorate(fn: Callable) -> dramatiq.Actor:
        declared = dramatiq.actor(
            fn, actor_name=name, queue_name=queue, broker=dramatiq.get_broker(), **options
        )
        declared.run = fn
        _declared.append(declared)
        return declared

    return decorate


def enqueue(target: str | dramatiq.Actor, *args: Any, delay_ms: int | None = None) -> None:
    """Send ``target(*args)`` once the surrounding ``db.atomic()`` commits; never on rollback.

    ``target`` may be the actor's name, so services need not import the actor modules.
    """

    def send() -> None:
        found = _current.get_actor(target) if isinstance(target, str) else target
        try:
            found.send_with_options(args=args, delay=delay_ms)
        except Exception:  # noqa: BLE001 - the transaction is committed: never undo it here
            # The broker is down. What was committed stands; the clock's sweeps
            # (operations.resend_queued, email.sweep) send it again once the broker is back.
            log.exception(
                "could not send %s%r; the clock will send it again", found.actor_name, args
            )

    db.on_commit(send)


def loop_is_shared() -> bool:
    return isinstance(get_event_loop_thread(), SharedLoop)


setup_broker(get_settings())
