"""``managely dev``: the whole product in one process on one machine.

SQLite under the data dir, Dramatiq's in-memory broker with worker threads that run actors on
this process's event loop, the clock as a task, and hypercorn serving the app.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import dramatiq
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from managely import db, queue, schema, translations
from managely.jobs import clock
from managely.services import operations, seed, servers
from managely.settings import get_settings
from managely.web import create_app

log = logging.getLogger(__name__)


def start_worker(loop: asyncio.AbstractEventLoop, threads: int) -> dramatiq.Worker:
    """Worker threads that hand each async actor to ``loop`` (the caller's)."""
    queue.event_loop.shared = loop
    worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=threads, worker_timeout=200)
    worker.start()
    return worker


async def stop_worker(worker: dramatiq.Worker) -> None:
    # Worker.stop joins threads that may be waiting on this loop: never block it. An operation
    # still running after 5 s is left to its lease: the next start requeues it.
    await asyncio.to_thread(worker.stop, 5000)


async def prepare_local_server(settings) -> None:
    """This machine is the dev server: (re)bootstrap it, which is quick when already done,
    so the shared trytond is running and every package has its template."""
    server = await servers.ensure_local_server(
        settings.data_dir / "hosts" / servers.LOCAL_SERVER, settings.local_tryton_port
    )
    # One process owns everything here, so whatever the last run left "running" is dead.
    requeued = await operations.recover_after_restart()
    if requeued:
        log.info("requeued %s operation(s) interrupted by the last shutdown", requeued)
    try:
        operation = await servers.bootstrap(server)
    except Exception as exc:  # noqa: BLE001 - the portal still starts; the panel says why
        log.warning("local server not bootstrapped: %s", exc)
        return
    log.info("bootstrapping %s (operation %s)", server.name, operation.code)


async def serve(host: str, port: int) -> None:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    applied = await schema.upgrade(settings.database_url)
    if applied:
        log.info("applied %s migration(s)", len(applied))
    translations.compile_catalogs()
    await db.init(settings)
    await seed.seed_demo()
    email, password = await seed.ensure_dev_admin(settings)

    loop = asyncio.get_running_loop()
    worker = start_worker(loop, settings.worker_threads)
    if settings.local_server:
        await prepare_local_server(settings)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    clock_task = asyncio.create_task(clock.run(stop))

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = "-"
    config.graceful_timeout = 3
    url = f"http://{host}:{port}"
    print(
        f"\n  Managely is running at {url}\n"
        f"  Admin login: {email} / {password}\n"
        f"  Data: {settings.data_dir}  (kept between runs)\n"
        f"  Emails are {'printed here' if settings.smtp_url.startswith('console') else 'sent via ' + settings.smtp_url.split('@')[-1]}\n",
        flush=True,
    )
    try:
        await hypercorn_serve(create_app(settings), config, shutdown_trigger=stop.wait)
    finally:
        stop.set()
        await clock_task
        await stop_worker(worker)
        if settings.local_server:
            await servers.stop_local_server()
        await servers.close_drivers()
        await db.close()
