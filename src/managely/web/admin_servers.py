"""Servers for staff: inventory, capacity and health, bootstrap, drain, firewall rules."""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, render_template, request, url_for

from managely.i18n import gettext as _
from managely.services import admin_servers, bus
from managely.services.errors import ServiceError
from managely.web.auth import client_ip, permission_required
from managely.web.forms import act_and_redirect, form_error, form_fields
from managely.web.htmx import page_or_partial
from managely.web.sse import stream

bp = Blueprint("admin_servers", __name__, url_prefix="/admin/servers")
SERVER_FIELDS = (
    "name",
    "host",
    "driver",
    "port",
    "ssh_user",
    "private_key",
    "host_key",
    "region",
    "capacity",
    "root",
    "tryton_port",
    "db_backend",
    "db_uri",
)
RULE_FIELDS = ("action", "protocol", "port", "source", "note")


@bp.get("/")
@permission_required("servers.view")
async def index():
    return await page_or_partial(
        "admin/servers/list.html", rows=await admin_servers.inventory(), form={}, errors={}
    )


@bp.post("/")
@permission_required("servers.manage")
async def add():
    form = await form_fields(*SERVER_FIELDS)
    try:
        server = await admin_servers.add(g.user, form, ip=client_ip())
    except ServiceError as error:
        form.pop("private_key")  # never echoed back into the page
        return await form_error(
            "admin/servers/list.html", error, rows=await admin_servers.inventory(), form=form
        )
    await flash(_("The server is added. Set it up to start using it."), "success")
    return redirect(url_for("admin_servers.detail", name=server.name))


async def _detail_context(name: str) -> dict:
    server, samples = await admin_servers.health(name)
    return {
        "server": server,
        "samples": samples,
        "rules": await admin_servers.rules(server),
        "form": {},
        "errors": {},
    }


@bp.get("/<name>")
@permission_required("servers.view")
async def detail(name: str):
    return await page_or_partial("admin/servers/detail.html", **await _detail_context(name))


async def _health_context(name: str) -> dict:
    server, samples = await admin_servers.health(name)
    return {"server": server, "samples": samples}


@bp.get("/<name>/health")
@permission_required("servers.view")
async def health(name: str):
    """The live health widget alone: its polling fallback."""
    return await page_or_partial("admin/servers/_health.html", **await _health_context(name))


@bp.get("/<name>/health/events")
@permission_required("servers.view")
async def health_events(name: str):
    """The health widget over SSE, sent again whenever the server's channel says it changed.
    A retired server gets no more samples, so its stream ends after the first."""
    await admin_servers.get(name)  # 404 before the stream starts

    async def render() -> tuple[str, str, bool]:
        context = await _health_context(name)
        html = await render_template("admin/servers/_health.html", **context)
        latest = context["samples"][0].id if context["samples"] else 0
        server = context["server"]
        return html, f"{latest}-{server.status}", server.status == "retired"

    return stream(
        "health",
        render,
        lambda: bus.subscribe(bus.channel_for("server", name)),
        close_event="done",
        last_event_id=request.headers.get("Last-Event-ID", ""),
    )


async def _act(name: str, action, success: str):
    return await act_and_redirect(action, success, url_for("admin_servers.detail", name=name))


@bp.post("/<name>/bootstrap")
@permission_required("servers.manage")
async def bootstrap(name: str):
    try:
        operation = await admin_servers.bootstrap(g.user, name, ip=client_ip())
    except ServiceError as error:
        await flash(str(error), "error")
        return redirect(url_for("admin_servers.detail", name=name))
    return redirect(url_for("admin_operations.detail", code=operation.code))


@bp.post("/<name>/drain")
@permission_required("servers.manage")
async def drain(name: str):
    draining = (await form_fields("action"))["action"] != "undrain"
    return await _act(
        name,
        lambda: admin_servers.set_draining(g.user, name, draining, ip=client_ip()),
        _("The server gets no new systems now.")
        if draining
        else _("The server takes new systems again."),
    )


@bp.post("/<name>/firewall")
@permission_required("servers.manage")
async def add_rule(name: str):
    form = await form_fields(*RULE_FIELDS)
    try:
        await admin_servers.add_rule(g.user, name, form, ip=client_ip())
    except ServiceError as error:
        context = await _detail_context(name)
        context["form"] = form
        del context["errors"]  # form_error sets them
        return await form_error("admin/servers/detail.html", error, **context)
    await flash(_("The rule is saved. Apply the rules to put it on the server."), "success")
    return redirect(url_for("admin_servers.detail", name=name))


@bp.post("/<name>/firewall/delete")
@permission_required("servers.manage")
async def delete_rule(name: str):
    rule = (await form_fields("rule"))["rule"]
    return await _act(
        name,
        lambda: admin_servers.delete_rule(g.user, name, rule, ip=client_ip()),
        _("The rule is removed."),
    )


@bp.post("/<name>/firewall/apply")
@permission_required("servers.manage")
async def apply_rules(name: str):
    return await _act(
        name,
        lambda: admin_servers.apply_rules(g.user, name, ip=client_ip()),
        _("The rules are being applied; each one is a task in the operations list."),
    )
