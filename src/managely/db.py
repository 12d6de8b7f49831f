"""Database wiring shared by the web app, the worker, the clock and aerich.

``atomic()`` is the one way services open a transaction: it wraps Tortoise's
``in_transaction`` and runs the callbacks registered with ``on_commit()`` only after the
outermost transaction commits, so a rollback never lets a job message escape.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from tortoise import Tortoise
from tortoise.backends.base import executor
from tortoise.transactions import in_transaction

from managely.settings import Settings, get_settings

MODEL_MODULES = [
    "managely.models.accounts",
    "managely.models.catalog",
    "managely.models.subscriptions",
    "managely.models.billing",
    "managely.models.launches",
    "managely.models.operations",
    "managely.models.servers",
    "managely.models.support",
    "managely.models.addons",
    "managely.models.referrals",
    "managely.models.platform",
]
MIGRATIONS_ROOT = Path(__file__).resolve().parents[2] / "migrations"

_pending: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "managely_on_commit", default=None
)


def dialect(database_url: str) -> str:
    return "postgres" if database_url.startswith(("postgres://", "postgresql://")) else "sqlite"


def tortoise_config(database_url: str) -> dict:
    url = database_url.replace("postgresql://", "postgres://", 1)
    return {
        "connections": {"default": url},
        "apps": {
            "models": {
                "models": [*MODEL_MODULES, "aerich.models"],
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def migrations_dir(database_url: str) -> Path:
    return MIGRATIONS_ROOT / dialect(database_url)


def forget_cached_sql() -> None:
    """Tortoise caches each model's INSERT by connection *name*; a process that points
    "default" at another dialect (the test tiers, ``managely migrate`` before ``dev``) must
    drop that cache or it would send SQLite SQL to PostgreSQL."""
    executor.EXECUTOR_CACHE.clear()


async def init(settings: Settings) -> None:
    forget_cached_sql()
    # The fallback lets the lifespan task, request tasks and worker threads share one context.
    await Tortoise.init(config=tortoise_config(settings.database_url), _enable_global_fallback=True)


async def close() -> None:
    if Tortoise.is_inited():
        await Tortoise.close_connections()


async def ping() -> bool:
    conn = Tortoise.get_connection("default")
    await conn.execute_query("SELECT 1")
    return True


@asynccontextmanager
async def atomic() -> AsyncIterator[object]:
    """A transaction whose ``on_commit`` callbacks fire after the outermost commit."""
    pending = _pending.get()
    if pending is not None:
        # Nested: a savepoint. Callbacks it registered are dropped if it rolls back.
        mark = len(pending)
        try:
            async with in_transaction() as conn:
                yield conn
        except BaseException:
            del pending[mark:]
            raise
        return
    callbacks: list[Callable[[], None]] = []
    token = _pending.set(callbacks)
    try:
        async with in_transaction() as conn:
            yield conn
    finally:
        _pending.reset(token)
    for callback in callbacks:
        callback()


def on_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the surrounding ``atomic()`` commits (at once outside one)."""
    pending = _pending.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)


def current_dialect() -> str:
    return dialect(get_settings().database_url)
