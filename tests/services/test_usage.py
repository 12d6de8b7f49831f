"""Usage analytics: bucketing, the SVG charts, sampling a real local root, retention."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from managely import i18n
from managely.jobs import usage as usage_jobs
from managely.models.launches import Launch, LaunchStatus, UsageSample
from managely.models.platform import ClockRun
from managely.models.servers import Server, ServerStatus
from managely.services import usage
from tests.ops.test_usage import make_root
from tests.web.routes import make_launch

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def series_of(values, metric="db", window="24h") -> usage.Series:
    span, _ = usage.WINDOWS[window]
    return usage.Series(usage.METRICS[metric], window, NOW - span, NOW, list(values))


def test_bucket_averages_each_slot_and_leaves_gaps_empty():
    start = NOW - timedelta(hours=4)
    samples = [
        (start + timedelta(minutes=5), 10),
        (start + timedelta(minutes=55), 20),
        (start + timedelta(hours=2, minutes=1), 7),
        (start - timedelta(minutes=1), 999),  # before the window
        (NOW, 999),  # the end is outside [start, end)
    ]
    assert usage.bucket(samples, start, NOW, 4) == [15.0, None, 7.0, None]
    assert usage.bucket(samples, start, NOW, 4, peak=True) == [20.0, None, 7.0, None]


@pytest.mark.parametrize(("window", "points"), [("24h", 48), ("7d", 84), ("30d", 60)])
def test_each_window_has_its_number_of_points(window, points):
    span, count = usage.WINDOWS[window]
    assert count == points
    samples = [
        (NOW - span + timedelta(seconds=i * span.total_seconds() / 500), i) for i in range(500)
    ]
    values = usage.bucket(samples, NOW - span, NOW, count)
    assert len(values) == points and None not in values


def test_unknown_windows_fall_back_to_a_day():
    assert usage.parse_window("7d") == "7d"
    assert usage.parse_window("1y") == "24h"
    assert usage.parse_window(None) == "24h"


def parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))  # noqa: S314 - our own SVG


def test_chart_is_valid_svg_with_the_points_and_no_style():
    data = series_of([None, 1024, 2048, None, 4096] + [None] * 43)
    svg = usage.render_chart(data)
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert "Database size" in root.get("aria-label")
    assert root.find(f"{SVG}title").text == "Database size"
    assert "style" not in str(svg)
    assert not [el for el in root.iter() if "style" in el.attrib]
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 1
    assert len(lines[0].get("points").split()) == 2  # buckets 1 and 2; the gap breaks the line
    assert len(root.findall(f"{SVG}circle")) == 1  # bucket 4 stands alone
    labels = [el.text for el in root.iter(f"{SVG}text")]
    assert "4 kB" in labels and "0 bytes" in labels
    # The highest value touches the top of the plot, zero sits on the axis.
    x, y = (float(n) for n in lines[0].get("points").split()[1].split(","))
    assert y == pytest.approx(usage.TOP + (usage.HEIGHT - usage.TOP - usage.BOTTOM) / 2)


def test_chart_without_measurements_says_so():
    root = parse(usage.render_chart(series_of([None] * 48, metric="users")))
    assert root.findall(f"{SVG}polyline") == []
    assert "no measurements" in root.get("aria-label")
    assert any(el.text == "No measurements yet" for el in root.iter(f"{SVG}text"))


def test_chart_labels_are_localized_with_arabic_digits():
    data = series_of([12.5] * 47 + [40.0], metric="cpu", window="7d")
    with i18n.use_locale("ar", arabic_digits=True):
        svg = str(usage.render_chart(data))
    root = parse(svg)
    labels = [el.text for el in root.iter(f"{SVG}text")]
    assert "٤٠٪" in labels  # the highest value, with Arabic-Indic digits
    assert not any(re.search(r"[0-9]", label) for label in labels)
    assert root.get("direction") == "ltr"  # time runs left to right in Arabic too
    # Western digits remain only in coordinates, never in what a reader sees.
    assert re.search("[٠-٩]", root.get("aria-label"))


async def test_series_buckets_the_launchs_samples(database, alice):
    launch, _ = await make_launch(alice)
    other, _ = await make_launch(alice)
    for minutes, users in ((10, 3), (20, 5), (200, 1)):
        await UsageSample.create(
            launch=launch, sampled_at=NOW - timedelta(minutes=minutes), active_users=users
        )
    await UsageSample.create(launch=other, sampled_at=NOW - timedelta(minutes=5), active_users=9)
    await UsageSample.create(
        launch=launch, sampled_at=NOW - timedelta(days=2), active_users=99
    )  # outside the day

    day = await usage.series(launch, "users", "24h", NOW)
    assert len(day.values) == 48
    assert day.values[-1] == 5  # the peak of the last half hour, not another system's 9
    assert day.values[-7] == 1
    assert day.measured == [1, 5]
    week = await usage.series(launch, "users", "7d", NOW)
    assert max(week.measured) == 99


async def test_sampling_measures_active_systems_and_forgets_old_samples(database, alice, tmp_path):
    make_root(tmp_path)
    launch, _ = await make_launch(alice)
    server = await Server.get(id=launch.server_id)
    server.sites_root = str(tmp_path)
    server.status = ServerStatus.ACTIVE
    await server.save()
    await Launch.filter(id=launch.id).update(site_name="acme")
    suspended, _ = await make_launch(alice)
    await Launch.filter(id=suspended.id).update(site_name="quiet", status=LaunchStatus.SUSPENDED)
    old = await UsageSample.create(launch=launch, sampled_at=datetime.now(UTC) - timedelta(days=36))

    outcome = await usage_jobs.sample.run()

    assert outcome == {"samples": 1, "failed_servers": 0, "purged": 1}
    sample = await UsageSample.get(launch_id=launch.id)
    assert sample.id != old.id
    assert sample.active_users == 2
    assert sample.db_bytes == (tmp_path / "db" / "acme.sqlite").stat().st_size
    assert sample.disk_bytes > sample.db_bytes
    assert sample.server_id == server.id
    assert not await UsageSample.filter(launch_id=suspended.id).exists()
    assert (await ClockRun.get(task="usage.sample")).status == "done"


async def test_a_failing_server_is_counted_not_raised(database, alice, tmp_path):
    launch, _ = await make_launch(alice)
    await Server.filter(id=launch.server_id).update(
        status=ServerStatus.ACTIVE, sites_root=str(tmp_path / "missing" / "..x")
    )
    assert (await usage.sample_all())["failed_servers"] == 1
