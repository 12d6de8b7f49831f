"""Security and compliance screens for staff: audit log, sign-ins, lockouts, GeoIP rules, sessions."""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, request, url_for

from managely.i18n import gettext as _
from managely.services import audit
from managely.services.errors import ServiceError
from managely.services.trial_guard import APPLIES_TO
from managely.web.auth import client_ip, permission_required
from managely.web.forms import form_error, form_fields
from managely.web.htmx import page_or_partial

bp = Blueprint("admin_security", __name__, url_prefix="/admin/security")


@bp.get("/audit")
@permission_required("audit.view")
async def audit_log():
    filters = audit.AuditFilters.parse(request.args)
    context = {"filters": filters, "errors": {}}
    try:
        page = await audit.audit_entries(filters, request.args.get("after", ""))
    except ServiceError as error:
        empty = audit.Page([], "")
        return await form_error(
            "admin/security/audit.html", error, "admin/security/_audit_table.html",
            page=empty, filters=filters,
        )  # fmt: skip
    return await page_or_partial(
        "admin/security/audit.html", "admin/security/_audit_table.html", page=page, **context
    )


@bp.get("/sign-ins")
@permission_required("users.view")
async def sign_ins():
    email = request.args.get("email", "").strip()[:254]
    failed = request.args.get("failed") == "1"
    page = await audit.sign_ins(
        email=email, failed_only=failed, cursor=request.args.get("after", "")
    )
    return await page_or_partial(
        "admin/security/sign_ins.html",
        "admin/security/_sign_ins_table.html",
        page=page,
        email=email,
        failed=failed,
    )


@bp.get("/locked")
@permission_required("users.view")
async def locked():
    page = await audit.locked_accounts(request.args.get("after", ""))
    return await page_or_partial("admin/security/locked.html", page=page, now=audit.now())


async def _geoip_page(form: dict[str, str], error: ServiceError | None = None):
    context = {"rules": await audit.geoip_rules(), "form": form, "scopes": APPLIES_TO}
    if error is not None:
        return await form_error("admin/security/geoip.html", error, **context)
    return await page_or_partial("admin/security/geoip.html", errors={}, **context)


@bp.route("/geoip", methods=["GET", "POST"])
@permission_required("platform.manage")
async def geoip():
    """Country rules for trials and signups: list and add (audited)."""
    if request.method == "GET":
        return await _geoip_page({"kind": "deny", "applies_to": "trial"})
    form = await form_fields("country", "kind", "applies_to", "note")
    try:
        await audit.add_geoip_rule(g.user, ip=client_ip(), **form)
    except ServiceError as error:
        return await _geoip_page(form, error)
    await flash(_("The rule is added."), "success")
    return redirect(url_for("admin_security.geoip"))


@bp.post("/geoip/delete")
@permission_required("platform.manage")
async def delete_geoip():
    form = await form_fields("country", "applies_to")
    await audit.remove_geoip_rule(g.user, ip=client_ip(), **form)
    await flash(_("The rule is deleted."), "success")
    return redirect(url_for("admin_security.geoip"))
