"""Financial reports for staff: revenue by month and package, MRR/ARR, churn, trial conversion, wallet liabilities, referral commissions owed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Blueprint, Response, request

from managely.services import reports
from managely.settings import CURRENCIES, get_settings
from managely.web.auth import permission_required
from managely.web.htmx import page_or_partial

bp = Blueprint("admin_reports", __name__, url_prefix="/admin/reports")
PERMISSION = "reports.view"


def _currency() -> str:
    wanted = request.args.get("currency", "").upper()
    return wanted if wanted in CURRENCIES else get_settings().default_currency


async def _show(report: reports.Report, currency: str | None) -> Response:
    """The report as a page (table and chart), or as CSV with ``?format=csv``."""
    if request.args.get("format") == "csv":
        name = f"{report.slug}-{currency}" if currency else report.slug
        return Response(
            reports.to_csv(report),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return await page_or_partial(
        "admin/reports/report.html",
        report=report,
        currency=currency,
        currencies=CURRENCIES if currency else (),
    )


@bp.get("")
@permission_required(PERMISSION)
async def index():
    return await page_or_partial("admin/reports/index.html", links=LINKS)


def _money_report(build: Callable[[str], Awaitable[reports.Report]]):
    async def view():
        currency = _currency()
        return await _show(await build(currency), currency)

    return view


def _plain_report(build: Callable[[], Awaitable[reports.Report]]):
    async def view():
        return await _show(await build(), None)

    return view


ROUTES = {
    "revenue": ("/revenue", _money_report(reports.revenue_by_month)),
    "packages": ("/revenue-by-package", _money_report(reports.revenue_by_package)),
    "mrr": ("/mrr", _money_report(reports.recurring_revenue)),
    "churn": ("/churn", _plain_report(reports.churn)),
    "trials": ("/trial-conversion", _plain_report(reports.trial_conversion)),
    "liabilities": ("/wallet-liabilities", _plain_report(reports.wallet_liabilities)),
    "commissions": ("/referral-commissions", _plain_report(reports.commissions_owed)),
}
for _name, (_path, _view) in ROUTES.items():
    _view.__name__ = _name
    bp.add_url_rule(_path, _name, permission_required(PERMISSION)(_view), methods=["GET"])
LINKS = tuple(f"admin_reports.{name}" for name in ROUTES)
