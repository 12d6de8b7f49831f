"""Health of the process's dependencies, for ``/healthz`` and the CLI."""

from __future__ import annotations

import asyncio

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from managely import db


async def _database() -> str:
    try:
        await asyncio.wait_for(db.ping(), timeout=3)
    except Exception as exc:  # noqa: BLE001 - a health check reports any failure
        return f"error: {type(exc).__name__}"
    return "ok"


def _ping_broker(broker: dramatiq.Broker) -> None:
    if isinstance(broker, RedisBroker):
        broker.client.ping()


async def _broker() -> tuple[str, str]:
    broker = dramatiq.get_broker()
    kind = "redis" if isinstance(broker, RedisBroker) else "memory"
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping_broker, broker), timeout=3)
    except Exception as exc:  # noqa: BLE001
        return kind, f"error: {type(exc).__name__}"
    return kind, "ok"


async def check() -> dict:
    database, (broker_kind, broker) = await asyncio.gather(_database(), _broker())
    status = "ok" if database == "ok" and broker == "ok" else "error"
    return {
        "status": status,
        "database": {"status": database, "dialect": db.current_dialect()},
        "broker": {"status": broker, "kind": broker_kind},
    }
