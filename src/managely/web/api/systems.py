"""Systems: list, order (the same order as ``POST /create_system``), read, delete, a new
admin password, a custom domain. Each goes through ``launches.get_launch_for_user``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from quart import Blueprint, g, request
from quart_schema import validate_querystring, validate_request, validate_response

from managely.services import launches, listings, systems, trial_guard
from managely.web.api.base import PageInfo, PageQuery, Strict, Text, endpoint
from managely.web.api.schemas import Started, SystemOut, started, system_out
from managely.web.auth import client_ip

bp = Blueprint("systems", __name__, url_prefix="/systems")


class SystemList(BaseModel):
    items: list[SystemOut]
    page: PageInfo


class NewSystem(Strict):
    package: Text = Field(max_length=64)
    subdomain: Text = Field(max_length=63)
    mode: Literal["trial", "paid"] = "trial"
    period: Text = Field(default="monthly", max_length=16)
    currency: Text = Field(default="USD", max_length=3)
    addons: list[Text] = Field(default_factory=list, max_length=20)
    promo_code: Text | None = Field(default=None, max_length=64)


class Deletion(Strict):
    confirm: Text = Field(max_length=63)


class DomainChange(Strict):
    domain: Text = Field(max_length=253)


@bp.get("")
@endpoint("read")
@validate_querystring(PageQuery)
@validate_response(SystemList)
async def list_systems(query_args: PageQuery):
    """The customer's systems, newest first."""
    page = await listings.systems(g.user, query_args.cursor, query_args.limit)
    return SystemList(
        items=[system_out(launch) for launch in page.items],
        page=PageInfo(next_cursor=page.next_cursor),
    )


@bp.post("")
@endpoint("write")
@validate_request(NewSystem)
@validate_response(Started, 202)
async def create_system(data: NewSystem):
    """Order a system: a trial, or paid from the wallet; answers its provisioning."""
    order = None
    if data.mode == "paid":
        order = launches.Order(
            period=data.period,
            currency=data.currency.upper(),
            addons=tuple(await launches.addons_by_slug(data.addons)),
            promo_code=data.promo_code or None,
            # The order's own key makes a retried purchase safe even past the API's replay.
            key=request.headers.get("Idempotency-Key", "")[:64],
        )
    traits = trial_guard.RequestTraits.from_request(request.headers, client_ip(), user=g.user)

    async def trial_check() -> None:
        await trial_guard.record_trial(g.user, traits)

    if order is None:
        launches.validate_subdomain(data.subdomain)
        await trial_guard.check_trial_allowed(g.user, traits)  # refused before any write
    _, operation = await launches.create_system(
        g.user,
        package_slug=data.package,
        subdomain=data.subdomain,
        order=order,
        trial_check=trial_check,
    )
    return await started(operation)


@bp.get("/<code>")
@endpoint("read")
@validate_response(SystemOut)
async def get_system(code: str):
    """One system."""
    return system_out(await launches.get_launch_for_user(g.user, code))


@bp.delete("/<code>")
@endpoint("write")
@validate_querystring(Deletion)
@validate_response(Started, 202)
async def delete_system(code: str, query_args: Deletion):
    """Delete a system; ``confirm`` must repeat its name."""
    launch = await launches.get_launch_for_user(g.user, code)
    return await started(await systems.delete(launch, g.user, query_args.confirm))


@bp.post("/<code>/password")
@endpoint("write")
@validate_response(Started, 202)
async def change_password(code: str):
    """A new random administrator password for the system's ERP."""
    launch = await launches.get_launch_for_user(g.user, code)
    return await started(await launches.reset_admin_password(launch, g.user))


@bp.post("/<code>/domain")
@endpoint("write")
@validate_request(DomainChange)
@validate_response(Started, 202)
async def change_domain(code: str, data: DomainChange):
    """Connect the customer's own domain to the system."""
    launch = await launches.get_launch_for_user(g.user, code)
    return await started(await systems.change_domain(launch, g.user, data.domain))
