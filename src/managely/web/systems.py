"""The system page's actions: new admin password, domain, backups, add-ons, deletion.

Every action fetches the system through ``get_launch_for_user`` (another customer's is a 404),
starts one operation and sends the customer to its live progress page. A refused action
shows the system page again with the reason next to the form that caused it.
"""

from __future__ import annotations

from quart import Blueprint, g, redirect, request, send_file, url_for

from managely.i18n import gettext as _
from managely.i18n import minor_to_decimal
from managely.models.launches import Launch
from managely.services import accounts, launches, systems
from managely.services.errors import ServiceError, ValidationError
from managely.services.wallet import InsufficientFunds
from managely.web.auth import login_required
from managely.web.forms import form_fields
from managely.web.htmx import is_htmx, page_or_partial

bp = Blueprint("systems", __name__)


async def render_system(
    launch: Launch,
    *,
    status_code: int = 200,
    errors: dict | None = None,
    dns: systems.DnsCheck | None = None,
    top_up_url: str = "",
):
    """The whole system page: details, login, domain, backups, add-ons, history, deletion."""
    return await page_or_partial(
        "panel/system.html",
        status_code=status_code,
        launch=launch,
        operation=await launches.latest_operation(launch),
        busy=await launches.pending_operations(launch),
        history=await systems.history(launch),
        backups=await systems.backups_of(launch),
        domains=await systems.domains_of(launch),
        certificates=await systems.certificates_of(launch),
        offered=await systems.addons_offered(launch),
        installed=await systems.installed_addons(launch),
        revealed=None,
        errors=errors or {},
        dns=dns,
        top_up_url=top_up_url,
        values=await request.form if request.method == "POST" else {},
    )


async def _refused(launch: Launch, error: ServiceError, section: str):
    """The page again, the message under the form of ``section`` (or its field)."""
    key = section if error.field in (None, "confirm") else error.field
    return await render_system(launch, status_code=error.status, errors={key: str(error)})


def _progress(operation):
    return redirect(url_for("operations.page", code=operation.code))


@bp.post("/panel/systems/<code>/credentials/reset")
@login_required
async def reset_password(code: str):
    """A new random admin password, after the customer typed their own password again."""
    launch = await launches.get_launch_for_user(g.user, code)
    data = await form_fields("password")
    try:
        if not accounts.check_password(g.user, data["password"]):
            raise ValidationError(_("That is not your password."), field="reset")
        operation = await launches.reset_admin_password(launch, g.user)
    except ServiceError as error:
        return await _refused(launch, error, "reset")
    return _progress(operation)


@bp.get("/panel/systems/<code>/domain/check")
@login_required
async def check_dns(code: str):
    """Does the domain already point at the system's server? (Before asking to connect it.)"""
    launch = await launches.get_launch_for_user(g.user, code)
    try:
        result = await systems.check_dns(launch, request.args.get("domain", ""))
    except ServiceError as error:
        result = systems.DnsCheck(request.args.get("domain", "")[:253], error=str(error))
    if is_htmx():
        return await page_or_partial("systems/_dns_check.html", launch=launch, dns=result)
    return await render_system(launch, dns=result)


@bp.post("/panel/systems/<code>/domain")
@login_required
async def change_domain(code: str):
    launch = await launches.get_launch_for_user(g.user, code)
    data = await form_fields("domain")
    try:
        operation = await systems.change_domain(launch, g.user, data["domain"])
    except ServiceError as error:
        return await _refused(launch, error, "domain")
    return _progress(operation)


@bp.post("/panel/systems/<code>/backups")
@login_required
async def create_backup(code: str):
    launch = await launches.get_launch_for_user(g.user, code)
    try:
        operation = await systems.back_up(launch, g.user)
    except ServiceError as error:
        return await _refused(launch, error, "backups")
    return _progress(operation)


@bp.get("/panel/systems/<code>/backups/<backup>/download")
@login_required
async def download_backup(code: str, backup: str):
    launch = await launches.get_launch_for_user(g.user, code)
    try:
        archive = await systems.backup_file(launch, backup)
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _refused(launch, error, "backups")
    return await send_file(archive, as_attachment=True, attachment_filename=archive.name)


@bp.post("/panel/systems/<code>/backups/<backup>/restore")
@login_required
async def restore_backup(code: str, backup: str):
    launch = await launches.get_launch_for_user(g.user, code)
    data = await form_fields("confirm")
    try:
        operation = await systems.restore(launch, g.user, backup, data["confirm"])
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _refused(launch, error, f"restore-{backup}")
    return _progress(operation)


@bp.post("/panel/systems/<code>/delete")
@login_required
async def delete_system(code: str):
    launch = await launches.get_launch_for_user(g.user, code)
    data = await form_fields("confirm")
    try:
        operation = await systems.delete(launch, g.user, data["confirm"])
    except ServiceError as error:
        return await _refused(launch, error, "delete")
    return _progress(operation)


@bp.post("/addons/install_app")
@login_required
async def install_app():
    """Buy an add-on for one of the customer's systems and install it."""
    data = await form_fields("system", "addon")
    launch = await launches.get_launch_for_user(g.user, data["system"])
    try:
        record = await systems.buy_addon(launch, g.user, data["addon"])
    except InsufficientFunds as error:
        amount = str(minor_to_decimal(error.shortfall_minor, error.currency))
        back = url_for("panel.system", code=launch.code)
        top_up = url_for("panel.wallet", currency=error.currency, amount=amount, next=back)
        return await render_system(
            launch, status_code=error.status, errors={"addons": str(error)}, top_up_url=top_up
        )
    except ServiceError as error:
        return await _refused(launch, error, "addons")
    await record.fetch_related("operation")
    return _progress(record.operation)
