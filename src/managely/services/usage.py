"""Usage analytics: sampling each active system every few minutes, series, and SVG charts.

One run of ``resource_usage_monitor.sh`` per server measures all its sites at once: database
size, disk (site directory plus database) and active ERP users per site, and the CPU and memory
of the one trytond process every site on that server shares. A site's own share of that process
is not measurable, so the charts say "shared ERP server" rather than pretend otherwise.

Charts are drawn on the server as SVG (no chart JavaScript): time runs left to right in every
language; only the labels are localized.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup

from managely import i18n
from managely.i18n import gettext as _
from managely.i18n import lazy_gettext as _l
from managely.models.launches import Launch, LaunchStatus, UsageSample
from managely.models.servers import Server, ServerStatus
from managely.services import charts
from managely.services.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH
from managely.services.errors import ValidationError
from managely.services.servers import driver_for_server

log = logging.getLogger(__name__)

SCRIPT = "resource_usage_monitor.sh"
RETENTION = timedelta(days=35)
# window -> (span, number of points drawn)
WINDOWS: dict[str, tuple[timedelta, int]] = {
    "24h": (timedelta(hours=24), 48),
    "7d": (timedelta(days=7), 84),
    "30d": (timedelta(days=30), 60),
}
DEFAULT_WINDOW = "24h"
WINDOW_LABELS = {"24h": _l("Last 24 hours"), "7d": _l("Last 7 days"), "30d": _l("Last 30 days")}


@dataclass(frozen=True)
class Metric:
    name: str
    field: str
    title: object  # a lazy string
    format: Callable[[float], str]
    peak: bool = False  # a bucket shows its highest value, not its mean
    shared: bool = False  # measured on the ERP process all sites of the server share


def _count(value: float) -> str:
    return i18n.format_number(round(value))


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("cpu", "cpu_pct", _l("CPU (shared ERP server)"), i18n.format_percent, shared=True),
        Metric(
            "memory", "mem_bytes", _l("Memory (shared ERP server)"), i18n.format_bytes, shared=True
        ),
        Metric("disk", "disk_bytes", _l("Disk space"), i18n.format_bytes),
        Metric("db", "db_bytes", _l("Database size"), i18n.format_bytes),
        Metric("users", "active_users", _l("Active ERP users"), _count, peak=True),
    )
}


@dataclass(frozen=True)
class Series:
    metric: Metric
    window: str
    start: datetime
    end: datetime
    values: list[float | None]  # one per bucket, None where nothing was measured

    @property
    def measured(self) -> list[float]:
        return [v for v in self.values if v is not None]


def parse_window(value: str | None) -> str:
    """A known window name; anything else is the default (a hand-edited URL still works)."""
    return value if value in WINDOWS else DEFAULT_WINDOW


def bucket(
    samples: Sequence[tuple[datetime, float]],
    start: datetime,
    end: datetime,
    count: int,
    *,
    peak: bool = False,
) -> list[float | None]:
    """Spread ``samples`` over ``count`` equal buckets of [start, end): mean (or max) of each."""
    width = (end - start) / count
    groups: list[list[float]] = [[] for _ in range(count)]
    for at, value in samples:
        if start <= at < end:
            groups[min(int((at - start) / width), count - 1)].append(float(value))
    if peak:
        return [max(group) if group else None for group in groups]
    return [sum(group) / len(group) if group else None for group in groups]


async def series(launch: Launch, metric: str, window: str, now: datetime | None = None) -> Series:
    """One metric of ``launch`` over ``window``, bucketed for drawing."""
    if metric not in METRICS:
        raise ValidationError(_l("Unknown chart."))
    return (await all_series(launch, window, now, [metric]))[0]


async def all_series(
    launch: Launch, window: str, now: datetime | None = None, metrics: Sequence[str] = ()
) -> list[Series]:
    """Every metric (or those named) of ``launch`` over ``window``, from one query."""
    if window not in WINDOWS:
        raise ValidationError(_l("Unknown chart."))
    chosen = [METRICS[name] for name in metrics or METRICS]
    span, points = WINDOWS[window]
    end = now or datetime.now(UTC)
    start = end - span
    rows = await UsageSample.filter(
        launch_id=launch.id, sampled_at__gte=start, sampled_at__lt=end
    ).values_list("sampled_at", *(metric.field for metric in chosen))
    return [
        Series(
            metric,
            window,
            start,
            end,
            bucket([(row[0], row[i]) for row in rows], start, end, points, peak=metric.peak),
        )
        for i, metric in enumerate(chosen, start=1)
    ]


# --- sampling ---------------------------------------------------------------------------------


def _int(value: str | None) -> int:
    try:
        return max(int(value or 0), 0)
    except ValueError:
        return 0


def site_usage(results: dict[str, str], site: str) -> dict[str, int] | None:
    """The script's ``site.NAME=db_bytes:N,disk_bytes:N,active_users:N`` line as numbers."""
    line = results.get(f"site.{site}")
    if line is None:
        return None
    pairs = dict(part.partition(":")[::2] for part in line.split(","))
    return {key: _int(pairs.get(key)) for key in ("db_bytes", "disk_bytes", "active_users")}


async def sample_server(server: Server, now: datetime | None = None) -> int:
    """Measure every active system on ``server`` with one script run; the rows written."""
    launches = await Launch.filter(
        server_id=server.id, status=LaunchStatus.ACTIVE, is_standby=False
    )
    if not launches:
        return 0
    run = await driver_for_server(server).run(SCRIPT, ["--root", server.sites_root], timeout=120)
    if not run.ok:
        raise RuntimeError(run.error or f"{SCRIPT} exited with {run.exit_code}")
    at = now or datetime.now(UTC)
    cpu = float(_int(run.results.get("trytond_cpu_pct")))
    memory = _int(run.results.get("trytond_mem_bytes"))
    rows = []
    for launch in launches:
        measured = site_usage(run.results, launch.site_name)
        if measured is not None:
            rows.append(
                UsageSample(
                    launch_id=launch.id,
                    server_id=server.id,
                    sampled_at=at,
                    cpu_pct=cpu,
                    mem_bytes=memory,
                    **measured,
                )
            )
    if rows:
        await UsageSample.bulk_create(rows)
    return len(rows)


async def purge(now: datetime | None = None) -> int:
    """Forget samples older than the retention (the longest window is 30 days)."""
    cutoff = (now or datetime.now(UTC)) - RETENTION
    return await UsageSample.filter(sampled_at__lt=cutoff).delete()


async def sample_all(now: datetime | None = None) -> dict[str, int]:
    """Sample every active server, then apply the retention; one bad server skips only itself."""
    sampled = failed = 0
    for server in await Server.filter(status=ServerStatus.ACTIVE).order_by("id"):
        try:
            sampled += await sample_server(server, now)
        except Exception:  # noqa: BLE001 - the next server is still worth measuring
            log.exception("usage: could not sample server %s", server.name)
            failed += 1
    return {"samples": sampled, "failed_servers": failed, "purged": await purge(now)}


# --- charts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    low: str
    high: str
    latest: str


def summarize(data: Series) -> Summary | None:
    """Lowest, highest and latest measured values, formatted; None without measurements."""
    measured = data.measured
    if not measured:
        return None
    fmt = data.metric.format
    return Summary(fmt(min(measured)), fmt(max(measured)), fmt(measured[-1]))


def _segments(data: Series, high: float) -> list[list[tuple[float, float]]]:
    """Runs of consecutive measured buckets as plot coordinates (a gap breaks the line)."""
    step = (WIDTH - LEFT - RIGHT) / max(len(data.values) - 1, 1)
    height = HEIGHT - TOP - BOTTOM
    runs: list[list[tuple[float, float]]] = [[]]
    for index, value in enumerate(data.values):
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((LEFT + index * step, TOP + height * (1 - value / high)))
    return [run for run in runs if run]


def render_chart(data: Series) -> Markup:
    """The series as an accessible SVG line chart, labels in the current locale.

    The plot is never mirrored: time runs left to right in Arabic too (see ``services.charts``).
    """
    title = str(data.metric.title)
    summary = summarize(data)
    if summary is None:
        described = _("%(title)s: no measurements yet.", title=title)
    else:
        described = _(
            "%(title)s, %(window)s: lowest %(low)s, highest %(high)s, latest %(latest)s.",
            title=title,
            window=str(WINDOW_LABELS[data.window]),
            low=summary.low,
            high=summary.high,
            latest=summary.latest,
        )
    measured = data.measured
    high = max(measured, default=0.0) or 1.0
    parts = charts.frame(
        title,
        described,
        data.metric.format(high if measured else 0),
        data.metric.format(0),
        i18n.format_datetime(data.start, "short"),
        i18n.format_datetime(data.end, "short"),
    )
    for run in _segments(data, high):
        if len(run) == 1:
            x, y = run[0]
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="chart__line" '
                'fill="currentColor"/>'
            )
            continue
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
        parts.append(
            f'<polyline points="{points}" class="chart__line" fill="none" '
            'stroke="currentColor" stroke-width="2" stroke-linejoin="round"/>'
        )
    if not measured:
        parts.append(charts.empty_note(_("No measurements yet")))
    return charts.finish(parts)
