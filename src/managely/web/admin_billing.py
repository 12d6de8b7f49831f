"""Billing oversight for staff: wallets and ledgers, invoices, payments, refunds and credit notes, the PayPal inbox, failed renewals."""

from __future__ import annotations

from quart import Blueprint

bp = Blueprint("admin_billing", __name__, url_prefix="/admin/billing")
