"""Subscriptions: list, pay a system's trial, renew (pay now / undo a cancellation), cancel;
and, for staff holding ``billing.adjust``, run the renewals now."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from quart import Blueprint, g
from quart_schema import validate_querystring, validate_request, validate_response

from managely.models.subscriptions import Subscription
from managely.services import launches, listings, renewals, subscriptions
from managely.web.api.base import Code, PageInfo, PageQuery, Strict, Text, endpoint

bp = Blueprint("subscriptions", __name__, url_prefix="/subscriptions")


class SubscriptionOut(BaseModel):
    code: str
    status: str
    package: str
    period: str
    currency: str
    price_minor: int
    auto_renew: bool
    cancel_at_period_end: bool
    current_period_start: datetime | None
    current_period_end: datetime | None


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]
    page: PageInfo


class NewSubscription(Strict):
    system: Code
    period: Text | None = Field(default=None, max_length=16)
    currency: Text | None = Field(default=None, max_length=3)
    promo_code: Text | None = Field(default=None, max_length=64)


class RenewalCounts(BaseModel):
    counts: dict[str, int]


def _out(subscription: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        code=subscription.code,
        status=str(subscription.status),
        package=subscription.package.slug,
        period=str(subscription.period.period),
        currency=subscription.currency,
        price_minor=subscription.price_minor,
        auto_renew=subscription.auto_renew,
        cancel_at_period_end=subscription.cancel_at_period_end,
        current_period_start=subscription.current_period_start,
        current_period_end=subscription.current_period_end,
    )


@bp.get("")
@endpoint("read")
@validate_querystring(PageQuery)
@validate_response(SubscriptionList)
async def list_subscriptions(query_args: PageQuery):
    """The customer's subscriptions, newest first."""
    page = await listings.subscriptions(g.user, query_args.cursor, query_args.limit)
    return SubscriptionList(
        items=[_out(found) for found in page.items], page=PageInfo(next_cursor=page.next_cursor)
    )


@bp.post("")
@endpoint("write")
@validate_request(NewSubscription)
@validate_response(SubscriptionOut, 201)
async def create_subscription(data: NewSubscription):
    """Pay for a system's trial now, from the wallet."""
    launch = await launches.get_launch_for_user(g.user, data.system)
    found = await subscriptions.pay_trial(
        g.user,
        launch.code,
        period=data.period or None,
        currency=data.currency or None,
        promo_code=data.promo_code or None,
    )
    return _out(await subscriptions.get_subscription_for_user(g.user, found.code)), 201


@bp.post("/<code>/renew")
@endpoint("write")
@validate_response(SubscriptionOut)
async def renew_subscription(code: str):
    """Pay now for a lapsed subscription, or undo a cancellation not yet effective."""
    await subscriptions.get_subscription_for_user(g.user, code)  # 404 before anything else
    return _out(await subscriptions.reactivate(g.user, code))


@bp.post("/<code>/cancel")
@endpoint("write")
@validate_response(SubscriptionOut)
async def cancel_subscription(code: str):
    """Stop at the end of the current period."""
    return _out(await subscriptions.cancel(g.user, code))


@bp.post("/auto_renew")
@endpoint("admin", permission="billing.adjust")
@validate_response(RenewalCounts)
async def auto_renew_subscriptions():
    """Staff: renew every subscription due now (the clock's hourly run; safe to repeat)."""
    return RenewalCounts(counts=await renewals.run_renewals(actor=g.user))
