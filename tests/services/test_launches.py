"""Launch validation and placement: hostile names never reach a script, slots are never
double-booked, drained and unhealthy servers get nothing."""

from __future__ import annotations

import asyncio

import pytest

from managely.models.launches import Launch
from managely.models.operations import SaaSOperation
from managely.models.servers import Server, ServerStatus
from managely.services import launches, seed, servers
from managely.services.errors import Conflict, ValidationError

HOSTILE = [
    "acme;rm -rf /",
    "acme$(id)",
    "acme`id`",
    "acme\nid",
    "../etc",
    "acme..x",
    "a.b",
    "acme/x",
    "acme x",
    "-acme",
    "acme-",
    "ac--me",
    "ab",
    "a" * 33,
    "a" * 64,
    "ex\u0430mple",  # Cyrillic а
    "acme\u200b",
    "acme%00",
    "acme'",
    'acme"',
    "acme|id",
    "acme&",
    "acme>x",
    "",
    "1acme",
    "ａｃｍｅ",  # full-width letters
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_or_malformed_names_are_refused(name):
    with pytest.raises(ValidationError) as caught:
        launches.validate_subdomain(name)
    assert caught.value.field == "subdomain"


@pytest.mark.parametrize("name", ["www", "admin", "api", "mail", "managely", "support"])
def test_reserved_names_are_refused(name):
    with pytest.raises(ValidationError, match="reserved"):
        launches.validate_subdomain(name)


@pytest.mark.parametrize("name", ["acme", "acme-2", "a1b", "x" * 32, "Acme-Trading"])
def test_good_names_pass_lowercased(name):
    assert launches.validate_subdomain(name) == name.lower()


@pytest.fixture
async def catalog(database):
    await seed.seed_demo()


async def make_server(name, *, region="default", capacity=5, used=0, status=ServerStatus.ACTIVE):
    server = await servers.add_server(
        name=name,
        host="127.0.0.1",
        driver="local",
        root=f"/tmp/{name}",
        region=region,
        capacity=capacity,
    )
    await Server.filter(id=server.id).update(status=status, sites_count=used)
    return await Server.get(id=server.id)


async def test_a_hostile_name_writes_nothing_and_queues_nothing(catalog, alice, run_jobs):
    await make_server("h1")
    for name in HOSTILE[:8]:
        with pytest.raises(ValidationError):
            await launches.create_system(alice, package_slug="starter", subdomain=name)
    await run_jobs()
    assert await Launch.all().count() == 0
    assert await SaaSOperation.all().count() == 0
    assert (await Server.get(name="h1")).sites_count == 0


async def test_placement_prefers_room_and_skips_drained_or_unhealthy_servers(database):
    await make_server("busy", capacity=10, used=8)
    roomy = await make_server("roomy", capacity=10, used=2)
    await make_server("drained", capacity=100, status=ServerStatus.DRAINING)
    await make_server("down", capacity=100, status=ServerStatus.UNREACHABLE)
    await make_server("elsewhere", capacity=100, region="eu")
    placed = await servers.place("default")
    assert placed.id == roomy.id and placed.sites_count == 3


async def test_the_last_slot_is_taken_once_under_a_race(database):
    await make_server("last", capacity=1)
    results = await asyncio.gather(*(servers.place() for _ in range(5)), return_exceptions=True)
    assert sum(isinstance(r, Server) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, Server))
    assert (await Server.get(name="last")).sites_count == 1


async def test_a_taken_name_is_refused_and_a_full_platform_says_so(catalog, alice, charlie):
    await make_server("one", capacity=1)
    launch, operation = await launches.create_system(
        alice, package_slug="starter", subdomain="acme"
    )
    assert launch.status == "provisioning" and operation.kind == "provision"
    with pytest.raises(Conflict, match="This name is taken"):
        await launches.create_system(charlie, package_slug="starter", subdomain="acme")
    with pytest.raises(Conflict, match="No server has room"):
        await launches.create_system(charlie, package_slug="starter", subdomain="acme-2")
    assert await Launch.all().count() == 1
