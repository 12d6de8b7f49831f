"""Logs: each server's platform and site logs rotated, compressed and pruned once a day."""

from __future__ import annotations

import logging

from managely.models.servers import Server, ServerStatus
from managely.services.servers import driver_for_server

log = logging.getLogger(__name__)
SCRIPT = "logs_archiving.sh"
KEEP_DAYS = 30


async def archive_all(keep_days: int = KEEP_DAYS) -> dict[str, int]:
    """Run logs_archiving.sh on every active server; one bad server skips only itself."""
    counts = {"servers": 0, "archived": 0, "pruned": 0, "failed": 0}
    for server in await Server.filter(status=ServerStatus.ACTIVE).order_by("id"):
        args = ["--root", server.sites_root, "--keep-days", str(keep_days)]
        try:
            run = await driver_for_server(server).run(SCRIPT, args, timeout=900)
        except OSError:
            log.exception("logs: could not reach %s", server.name)
            run = None
        if run is None or not run.ok:
            log.warning("logs: archiving failed on %s: %s", server.name, run and run.error)
            counts["failed"] += 1
            continue
        counts["servers"] += 1
        for key in ("archived", "pruned"):
            counts[key] += int(run.results.get(key, "0") or 0)
    return counts
