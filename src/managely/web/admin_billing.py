"""Billing oversight for staff: wallets and ledgers, invoices, payments, refunds and credit notes, the PayPal inbox, failed renewals."""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, request, url_for

from managely import crypto
from managely.i18n import format_money
from managely.i18n import gettext as _
from managely.models.billing import InvoiceKind, InvoiceStatus, PaymentStatus
from managely.services import admin_billing
from managely.services.errors import ServiceError
from managely.settings import CURRENCIES
from managely.web.auth import client_ip, permission_required
from managely.web.forms import form_error
from managely.web.htmx import page_or_partial

bp = Blueprint("admin_billing", __name__, url_prefix="/admin/billing")


def _cursor() -> str:
    return request.args.get("after", "")[:20]


@bp.get("")
@permission_required("billing.view")
async def invoices():
    filters = admin_billing.InvoiceFilters.parse(request.args)
    return await page_or_partial(
        "admin/billing/invoices.html",
        "admin/billing/_invoices_table.html",
        page=await admin_billing.list_invoices(filters, _cursor()),
        filters=filters,
        statuses=list(InvoiceStatus),
        kinds=list(InvoiceKind),
        currencies=CURRENCIES,
    )


async def _invoice_page(code: str, form: dict[str, str], errors: dict, status: int = 200):
    context = await admin_billing.invoice_detail(code)
    return await page_or_partial(
        "admin/billing/invoice.html", status_code=status, form=form, errors=errors, **context
    )


@bp.get("/invoices/<code>")
@permission_required("billing.view")
async def invoice(code: str):
    form = {"destination": "wallet", "key": crypto.random_token(16)}
    return await _invoice_page(code, form, {})


@bp.post("/invoices/<code>/refund")
@permission_required("billing.refund")
async def refund(code: str):
    found = await admin_billing.invoice_by_code(code)
    form = await request.form
    data = {name: form.get(name, "") for name in ("amount", "destination", "reason", "key")}
    try:
        made = await admin_billing.refund_invoice(
            g.user, found, data, key=data["key"], ip=client_ip()
        )
    except ServiceError as error:
        context = await admin_billing.invoice_detail(code)
        return await form_error("admin/billing/invoice.html", error, form=data, **context)
    amount = format_money(made.amount_minor, made.currency)
    await flash(_("Refund of %(amount)s recorded.", amount=amount), "success")
    return redirect(url_for("admin_billing.invoice", code=code))


@bp.get("/wallets")
@permission_required("billing.view")
async def wallets():
    currency = request.args.get("currency", "")
    return await page_or_partial(
        "admin/billing/wallets.html",
        page=await admin_billing.wallets(currency=currency, cursor=_cursor()),
        currency=currency,
        currencies=CURRENCIES,
    )


@bp.get("/wallets/<code>")
@permission_required("billing.view")
async def ledger(code: str):
    page = await admin_billing.customer_ledger(code, request.args.get("currency", ""), _cursor())
    return await page_or_partial("admin/billing/ledger.html", page=page, **page.extra)


@bp.get("/payments")
@permission_required("billing.view")
async def payments():
    status = request.args.get("status", "")
    return await page_or_partial(
        "admin/billing/payments.html",
        page=await admin_billing.list_payments(status=status, cursor=_cursor()),
        status=status,
        statuses=list(PaymentStatus),
    )


@bp.get("/refunds")
@permission_required("billing.view")
async def refunds():
    return await page_or_partial(
        "admin/billing/refunds.html", page=await admin_billing.list_refunds(cursor=_cursor())
    )


@bp.get("/events")
@permission_required("billing.view")
async def events():
    state = request.args.get("state", "")
    return await page_or_partial(
        "admin/billing/events.html",
        page=await admin_billing.list_events(state=state, cursor=_cursor()),
        state=state,
        states=admin_billing.EVENT_STATES,
    )


@bp.get("/events/<event_id>")
@permission_required("billing.view")
async def event(event_id: str):
    found = await admin_billing.event_by_id(event_id)
    return await page_or_partial(
        "admin/billing/event.html", event=found, payload=admin_billing.pretty(found.payload)
    )


@bp.post("/events/<event_id>/replay")
@permission_required("billing.adjust")
async def replay(event_id: str):
    found = await admin_billing.event_by_id(event_id)
    try:
        outcome = await admin_billing.replay_event(g.user, found, ip=client_ip())
    except ServiceError as error:
        await flash(str(error), "error")
        return redirect(url_for("admin_billing.event", event_id=event_id))
    if outcome == "applied":
        notice = _("The event was applied again; money already moved by it did not move twice.")
    else:
        notice = _("This kind of event has nothing to apply.")
    await flash(notice, "success")
    return redirect(url_for("admin_billing.event", event_id=event_id))


@bp.get("/renewals")
@permission_required("billing.view")
async def renewals():
    page = await admin_billing.failed_renewals(cursor=_cursor())
    return await page_or_partial("admin/billing/renewals.html", page=page, **page.extra)
