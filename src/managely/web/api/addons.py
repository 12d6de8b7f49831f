"""Add-ons: buy one for a system and install it (``install_app``), paid from the wallet."""

from __future__ import annotations

from pydantic import Field
from quart import Blueprint, g
from quart_schema import validate_request, validate_response

from managely.services import launches, systems
from managely.web.api.base import Code, Strict, Text, endpoint
from managely.web.api.schemas import Started, started

bp = Blueprint("addons", __name__, url_prefix="/addons")


class Install(Strict):
    system: Code
    addon: Text = Field(max_length=64)


@bp.post("/install")
@endpoint("write")
@validate_request(Install)
@validate_response(Started, 202)
async def install_app(data: Install):
    """Charge the add-on to the wallet and install it on the system."""
    launch = await launches.get_launch_for_user(g.user, data.system)
    record = await systems.buy_addon(launch, g.user, data.addon)
    await record.fetch_related("operation")
    return await started(record.operation)
