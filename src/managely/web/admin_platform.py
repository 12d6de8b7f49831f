"""Platform screens for staff: announcements, maintenance mode, bulk operations, settings."""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, request, url_for

from managely.i18n import gettext as _
from managely.services import admin_platform
from managely.services.errors import ServiceError
from managely.web.auth import client_ip, permission_required
from managely.web.forms import act_and_redirect, form_error, form_fields
from managely.web.htmx import page_or_partial

bp = Blueprint("admin_platform", __name__, url_prefix="/admin/platform")
ANNOUNCEMENT_FIELDS = (
    "title_en",
    "title_ar",
    "body_en",
    "body_ar",
    "level",
    "starts_at",
    "ends_at",
    "is_active",
)


@bp.get("/")
@permission_required("platform.manage")
async def index():
    return await page_or_partial(
        "admin/platform/index.html",
        maintenance=await admin_platform.maintenance_on(),
        announcements=await admin_platform.announcements(),
        settings=await admin_platform.settings_values(),
        form={"level": "info", "is_active": "on"},
        errors={},
    )


@bp.post("/maintenance")
@permission_required("platform.manage")
async def maintenance():
    on = (await form_fields("mode"))["mode"] == "on"
    await admin_platform.set_maintenance(g.user, on, ip=client_ip())
    await flash(
        _("Maintenance mode is on: new systems wait until it is off.")
        if on
        else _("Maintenance mode is off."),
        "success",
    )
    return redirect(url_for("admin_platform.index"))


@bp.post("/announcements")
@permission_required("platform.manage")
async def create_announcement():
    form = await form_fields(*ANNOUNCEMENT_FIELDS)
    try:
        await admin_platform.save_announcement(g.user, form, ip=client_ip())
    except ServiceError as error:
        return await form_error(
            "admin/platform/index.html",
            error,
            maintenance=await admin_platform.maintenance_on(),
            announcements=await admin_platform.announcements(),
            settings=await admin_platform.settings_values(),
            form=form,
        )
    await flash(_("The announcement is saved."), "success")
    return redirect(url_for("admin_platform.index"))


@bp.route("/announcements/<code>", methods=["GET", "POST"])
@permission_required("platform.manage")
async def announcement(code: str):
    note = await admin_platform.get_announcement(code)
    if request.method == "GET":
        form = {
            **{name: getattr(note, name) for name in ANNOUNCEMENT_FIELDS[:5]},
            "starts_at": note.starts_at.strftime("%Y-%m-%dT%H:%M") if note.starts_at else "",
            "ends_at": note.ends_at.strftime("%Y-%m-%dT%H:%M") if note.ends_at else "",
            "is_active": "on" if note.is_active else "",
        }
        return await page_or_partial(
            "admin/platform/announcement.html", note=note, form=form, errors={}
        )
    form = await form_fields(*ANNOUNCEMENT_FIELDS)
    try:
        await admin_platform.save_announcement(g.user, form, code, ip=client_ip())
    except ServiceError as error:
        return await form_error("admin/platform/announcement.html", error, note=note, form=form)
    await flash(_("The announcement is saved."), "success")
    return redirect(url_for("admin_platform.index"))


@bp.post("/announcements/<code>/delete")
@permission_required("platform.manage")
async def delete_announcement(code: str):
    await admin_platform.delete_announcement(g.user, code, ip=client_ip())
    await flash(_("The announcement is deleted."), "success")
    return redirect(url_for("admin_platform.index"))


@bp.post("/settings")
@permission_required("platform.manage")
async def save_setting():
    form = await form_fields("key", "value")
    return await act_and_redirect(
        lambda: admin_platform.save_setting(g.user, form["key"], form["value"], ip=client_ip()),
        _("The setting is saved."),
        url_for("admin_platform.index"),
    )


async def _bulk_context(filters) -> dict:
    return {
        "filters": filters,
        "systems": await admin_platform.pick_systems(filters),
        "choices": await admin_platform.choices(),
        "confirm_word": admin_platform.DELETE_CONFIRMATION,
    }


@bp.get("/bulk")
@permission_required("platform.manage")
async def bulk():
    filters = admin_platform.SystemFilters.parse(request.args)
    return await page_or_partial(
        "admin/platform/bulk.html",
        "admin/platform/_systems.html",
        errors={},
        **await _bulk_context(filters),
    )


@bp.post("/bulk")
@permission_required("platform.manage")
async def start_bulk():
    form = await request.form
    try:
        parent = await admin_platform.start_bulk(
            g.user,
            form.get("action", ""),
            form.getlist("systems"),
            confirm=form.get("confirm", ""),
            ip=client_ip(),
        )
    except ServiceError as error:
        filters = admin_platform.SystemFilters.parse(form)
        return await form_error("admin/platform/bulk.html", error, **await _bulk_context(filters))
    return redirect(url_for("admin_operations.detail", code=parent.code))
