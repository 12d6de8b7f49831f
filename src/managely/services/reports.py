"""Financial reports for staff: revenue, MRR/ARR, churn, trial conversion, liabilities.

Every figure is an aggregate query (``GROUP BY`` month, package or currency), so a report costs
a handful of small result rows however many invoices or subscriptions there are; Python only
fills empty months and turns counts into rates. Amounts never mix currencies: money reports
take one currency; the balance reports list each currency on its own row.

Definitions:
- revenue: paid invoices net of tax (subtotals), minus paid credit notes, by month of issue;
- MRR: the agreed price of each active or past-due subscription divided by its period's months;
  ARR is twelve times that;
- churn: paying subscriptions (not trials) cancelled or expired in a month, over those paying
  at the start of it;
- conversion: trials started in a month that became paying, whenever they did;
- liabilities: what wallets hold; commissions owed: referral balances pending and available.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any

from babel.support import LazyProxy
from markupsafe import Markup
from tortoise import connections

from managely import i18n
from managely.i18n import gettext as _
from managely.i18n import lazy_gettext as _l
from managely.services import charts
from managely.services.pricing import round_half_up

MONTHS = 12


@dataclass(frozen=True)
class Money:
    minor: int
    currency: str


@dataclass(frozen=True)
class Rate:
    """A share as a percentage (0-100), None when there was nothing to divide by."""

    ratio: float | None


@dataclass
class Report:
    slug: str
    title: LazyProxy
    columns: tuple[LazyProxy, ...]
    rows: list[tuple[Any, ...]]
    chart: Markup = field(default_factory=Markup)
    totals: dict[str, Any] = field(default_factory=dict)
    currency: str = ""  # the one currency of a money report (a CSV column)


# --- SQL --------------------------------------------------------------------------------------


def _dialect() -> str:
    return connections.get("default").capabilities.dialect


def month_of(column: str) -> str:
    """SQL for the ``YYYY-MM`` of a timestamp column, in UTC, in this database's dialect."""
    if _dialect() == "postgres":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"
    return f"strftime('%Y-%m', {column})"


async def _rows(sql: str, *params: object) -> list[dict[str, Any]]:
    """Run a constant query; ``MONTH(column)`` in it becomes this dialect's month of it."""
    sql = re.sub(r"MONTH\(([\w.]+)\)", lambda m: month_of(m.group(1)), sql)
    if _dialect() == "postgres":
        numbers = itertools.count(1)
        sql = re.sub(r"\?", lambda _m: f"${next(numbers)}", sql)
    return await connections.get("default").execute_query_dict(sql, list(params))


def month_keys(count: int = MONTHS, now: datetime | None = None) -> list[str]:
    """The last ``count`` months as ``YYYY-MM``, oldest first, this month included."""
    now = now or datetime.now(UTC)
    index = now.year * 12 + now.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def _month(key: str) -> date:
    return date(int(key[:4]), int(key[5:7]), 1)


def _month_label(key: str) -> str:
    return i18n.format_date(_month(key), "MMM y")


def _money_chart(title: str, labels: list[str], values: list[int], currency: str) -> Markup:
    described = _("%(title)s in %(currency)s.", title=title, currency=currency)
    return charts.bar_chart(
        title,
        described,
        labels,
        values,
        lambda v: i18n.format_money(int(v), currency),
        _("Nothing to show yet"),
    )


def _count_chart(title: str, labels: list[str], values: list[float], fmt=None) -> Markup:
    return charts.bar_chart(
        title, title, labels, values, fmt or i18n.format_number, _("Nothing to show yet")
    )


# --- revenue ----------------------------------------------------------------------------------


async def revenue_by_month(currency: str, now: datetime | None = None) -> Report:
    months = month_keys(now=now)
    found = await _rows(
        "SELECT MONTH(issued_at) AS month, kind, SUM(subtotal_minor) AS total FROM invoices "
        "WHERE number IS NOT NULL AND status = 'paid' AND currency = ? "
        "AND MONTH(issued_at) >= ? GROUP BY MONTH(issued_at), kind",
        currency,
        months[0],
    )
    sums: dict[tuple[str, str], int] = {(r["month"], r["kind"]): int(r["total"]) for r in found}
    rows = []
    for key in months:
        invoiced, credited = sums.get((key, "invoice"), 0), sums.get((key, "credit_note"), 0)
        rows.append(
            (
                _month(key),
                Money(invoiced, currency),
                Money(credited, currency),
                Money(invoiced - credited, currency),
            )
        )
    title = _l("Revenue by month")
    chart = _money_chart(
        str(title), [_month_label(k) for k in months], [r[3].minor for r in rows], currency
    )
    net = sum(r[3].minor for r in rows)
    return Report(
        "revenue",
        title,
        (_l("Month"), _l("Invoiced"), _l("Credited"), _l("Net revenue")),
        rows,
        chart,
        {"net": Money(net, currency)},
        currency,
    )


async def revenue_by_package(currency: str, now: datetime | None = None) -> Report:
    months = month_keys(now=now)
    found = await _rows(
        "SELECT p.slug AS slug, p.name_en AS name_en, p.name_ar AS name_ar, i.kind AS kind, "
        "SUM(i.subtotal_minor) AS total FROM invoices i "
        "LEFT JOIN subscriptions s ON s.id = i.subscription_id "
        "LEFT JOIN packages p ON p.id = s.package_id "
        "WHERE i.number IS NOT NULL AND i.status = 'paid' AND i.currency = ? "
        "AND MONTH(i.issued_at) >= ? "
        "GROUP BY p.slug, p.name_en, p.name_ar, i.kind",
        currency,
        months[0],
    )
    net: dict[str, int] = defaultdict(int)
    names: dict[str, str] = {}
    for r in found:
        slug = r["slug"] or ""
        names[slug] = (r[f"name_{i18n.current_locale()}"] or r["name_en"]) if slug else ""
        sign = -1 if r["kind"] == "credit_note" else 1
        net[slug] += sign * int(r["total"])
    ordered = sorted(net, key=lambda s: (-net[s], s))
    other = str(_l("Other (not a subscription)"))
    rows = [(names[s] or other, Money(net[s], currency)) for s in ordered]
    title = _l("Revenue by package, last 12 months")
    chart = _money_chart(str(title), [r[0] for r in rows], [r[1].minor for r in rows], currency)
    columns = (_l("Package"), _l("Net revenue"))
    return Report("packages", title, columns, rows, chart, currency=currency)


# --- recurring revenue ------------------------------------------------------------------------


async def recurring_revenue(currency: str) -> Report:
    """MRR and ARR now, by package, from active and past-due subscriptions."""
    found = await _rows(
        "SELECT p.slug AS slug, p.name_en AS name_en, p.name_ar AS name_ar, pp.months AS months, "
        "SUM(s.price_minor) AS total, COUNT(*) AS n FROM subscriptions s "
        "JOIN package_periods pp ON pp.id = s.period_id JOIN packages p ON p.id = s.package_id "
        "WHERE s.status IN ('active', 'past_due') AND s.currency = ? "
        "GROUP BY p.slug, p.name_en, p.name_ar, pp.months",
        currency,
    )
    monthly: dict[str, Fraction] = defaultdict(Fraction)
    counts: dict[str, int] = defaultdict(int)
    names: dict[str, str] = {}
    for r in found:
        monthly[r["slug"]] += Fraction(int(r["total"]), int(r["months"]))
        counts[r["slug"]] += int(r["n"])
        names[r["slug"]] = r[f"name_{i18n.current_locale()}"] or r["name_en"]
    ordered = sorted(monthly, key=lambda s: (-monthly[s], s))
    rows = [
        (
            names[s],
            counts[s],
            Money(round_half_up(monthly[s]), currency),
            Money(round_half_up(monthly[s] * 12), currency),
        )
        for s in ordered
    ]
    total = sum(monthly.values(), Fraction(0))
    title = _l("Monthly recurring revenue by package")
    chart = _money_chart(str(title), [r[0] for r in rows], [r[2].minor for r in rows], currency)
    return Report(
        "mrr",
        title,
        (_l("Package"), _l("Subscriptions"), _l("MRR"), _l("ARR")),
        rows,
        chart,
        {
            "mrr": Money(round_half_up(total), currency),
            "arr": Money(round_half_up(total * 12), currency),
        },
        currency,
    )


# --- churn and conversion ---------------------------------------------------------------------


async def _counts(sql: str) -> dict[str, int]:
    return {r["month"]: int(r["n"]) for r in await _rows(sql)}


async def churn(now: datetime | None = None) -> Report:
    months = month_keys(now=now)
    direct = await _counts(
        "SELECT MONTH(created_at) AS month, COUNT(*) AS n FROM subscriptions "
        "WHERE trial_ends_at IS NULL GROUP BY MONTH(created_at)"
    )
    converted = await _counts(
        "SELECT MONTH(created_at) AS month, COUNT(DISTINCT subscription_id) AS n "
        "FROM subscription_history WHERE from_status = 'trial' AND to_status = 'active' "
        "GROUP BY MONTH(created_at)"
    )
    churned = await _counts(
        "SELECT MONTH(created_at) AS month, COUNT(DISTINCT subscription_id) AS n "
        "FROM subscription_history WHERE to_status IN ('cancelled', 'expired') "
        "AND (from_status IS NULL OR from_status <> 'trial') GROUP BY MONTH(created_at)"
    )
    # Paying at the start of a month: every start before it, less every loss before it.
    every = sorted({*direct, *converted, *churned, *months})
    base, paying = {}, 0
    for key in every:
        base[key] = paying
        paying += direct.get(key, 0) + converted.get(key, 0) - churned.get(key, 0)
    rows = []
    for key in months:
        lost = churned.get(key, 0)
        rate = Rate(100 * lost / base[key] if base[key] else None)
        rows.append(
            (_month(key), base[key], direct.get(key, 0) + converted.get(key, 0), lost, rate)
        )
    title = _l("Churn by month")
    chart = _count_chart(
        str(title),
        [_month_label(k) for k in months],
        [r[4].ratio or 0 for r in rows],
        i18n.format_percent,
    )
    columns = (_l("Month"), _l("Paying at start"), _l("New paying"), _l("Lost"), _l("Churn"))
    return Report("churn", title, columns, rows, chart)


async def trial_conversion(now: datetime | None = None) -> Report:
    months = month_keys(now=now)
    found = await _rows(
        "SELECT MONTH(s.created_at) AS month, COUNT(DISTINCT s.id) AS trials, "
        "COUNT(DISTINCT h.subscription_id) AS converted FROM subscriptions s "
        "LEFT JOIN subscription_history h ON h.subscription_id = s.id "
        "AND h.from_status = 'trial' AND h.to_status = 'active' "
        "WHERE s.trial_ends_at IS NOT NULL AND MONTH(s.created_at) >= ? "
        "GROUP BY MONTH(s.created_at)",
        months[0],
    )
    by_month = {r["month"]: (int(r["trials"]), int(r["converted"])) for r in found}
    rows = []
    for key in months:
        trials, paid = by_month.get(key, (0, 0))
        rows.append((_month(key), trials, paid, Rate(100 * paid / trials if trials else None)))
    title = _l("Trials that became paying, by month the trial started")
    chart = _count_chart(
        str(title),
        [_month_label(k) for k in months],
        [r[3].ratio or 0 for r in rows],
        i18n.format_percent,
    )
    columns = (_l("Month"), _l("Trials"), _l("Became paying"), _l("Conversion"))
    return Report("trials", title, columns, rows, chart)


# --- balances owed ----------------------------------------------------------------------------


async def wallet_liabilities() -> Report:
    """What customers' wallets hold, per currency: money owed to them in service."""
    found = await _rows(
        "SELECT currency, SUM(balance_minor) AS total, COUNT(*) AS n FROM wallets "
        "WHERE balance_minor <> 0 GROUP BY currency ORDER BY currency"
    )
    rows = [(r["currency"], int(r["n"]), Money(int(r["total"]), r["currency"])) for r in found]
    title = _l("Wallet liabilities")
    chart = _count_chart(
        str(title),
        [r[0] for r in rows],
        [float(i18n.minor_to_decimal(r[2].minor, r[0])) for r in rows],
    )
    columns = (_l("Currency"), _l("Wallets holding money"), _l("Total balance"))
    return Report("liabilities", title, columns, rows, chart)


async def commissions_owed() -> Report:
    """Referral commissions owed per currency: still held (pending) and withdrawable."""
    found = await _rows(
        "SELECT currency, SUM(pending_minor) AS pending, SUM(available_minor) AS available, "
        "COUNT(*) AS n FROM referral_balances WHERE pending_minor <> 0 OR available_minor <> 0 "
        "GROUP BY currency ORDER BY currency"
    )
    rows = []
    for r in found:
        pending, available, cur = int(r["pending"]), int(r["available"]), r["currency"]
        rows.append(
            (
                cur,
                int(r["n"]),
                Money(pending, cur),
                Money(available, cur),
                Money(pending + available, cur),
            )
        )
    title = _l("Referral commissions owed")
    chart = _count_chart(
        str(title),
        [r[0] for r in rows],
        [float(i18n.minor_to_decimal(r[4].minor, r[0])) for r in rows],
    )
    columns = (_l("Currency"), _l("Referrers"), _l("Held"), _l("Available"), _l("Total owed"))
    return Report("commissions", title, columns, rows, chart)


# --- export -----------------------------------------------------------------------------------


def _csv_cell(cell: Any) -> str:
    if isinstance(cell, Money):
        return str(i18n.minor_to_decimal(cell.minor, cell.currency))
    if isinstance(cell, Rate):
        return "" if cell.ratio is None else f"{cell.ratio:.2f}"
    if isinstance(cell, date):
        return cell.strftime("%Y-%m")
    return str(cell)


def to_csv(report: Report) -> str:
    """The report's table as CSV: plain numbers (major units, a dot), a currency column."""
    out = io.StringIO()
    writer = csv.writer(out)
    extra = [report.currency] if report.currency else []
    writer.writerow([str(c) for c in report.columns] + (["currency"] if extra else []))
    for row in report.rows:
        writer.writerow([_csv_cell(c) for c in row] + extra)
    return out.getvalue()
