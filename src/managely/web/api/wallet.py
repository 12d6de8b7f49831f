"""The wallet: balances, the ledger of one currency, and the start of a PayPal top-up (the
customer approves at the answered address; the wallet is credited as on the HTML route)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from quart import Blueprint, g
from quart_schema import validate_querystring, validate_request, validate_response

from managely.services import listings, payments
from managely.services import wallet as wallet_service
from managely.web.api.base import PageInfo, PageQuery, Strict, Text, endpoint

bp = Blueprint("wallet", __name__, url_prefix="/wallet")


class BalanceOut(BaseModel):
    currency: str
    balance_minor: int


class Balances(BaseModel):
    balances: list[BalanceOut]


class LedgerQuery(PageQuery):
    currency: str = Field(default="USD", pattern="^[A-Za-z]{3}$")


class EntryOut(BaseModel):
    kind: str
    amount_minor: int
    balance_after_minor: int
    reference: str
    description: str
    created_at: datetime


class Ledger(BaseModel):
    currency: str
    items: list[EntryOut]
    page: PageInfo


class Recharge(Strict):
    amount: Text = Field(max_length=32, description="In major units, e.g. 25.00")
    currency: Text = Field(max_length=3)


class RechargeStarted(BaseModel):
    payment: str
    amount_minor: int
    currency: str
    approve_url: str


@bp.get("")
@endpoint("read")
@validate_response(Balances)
async def get_balances():
    """The balance of each of the customer's wallets."""
    found = await wallet_service.balances(g.user)
    return Balances(
        balances=[BalanceOut(currency=w.currency, balance_minor=w.balance_minor) for w in found]
    )


@bp.get("/ledger")
@endpoint("read")
@validate_querystring(LedgerQuery)
@validate_response(Ledger)
async def get_ledger(query_args: LedgerQuery):
    """The movements of one wallet, newest first."""
    currency = query_args.currency.upper()
    page = await listings.ledger(g.user, currency, query_args.cursor, query_args.limit)
    return Ledger(
        currency=currency,
        items=[
            EntryOut(
                kind=str(entry.kind),
                amount_minor=entry.amount_minor,
                balance_after_minor=entry.balance_after_minor,
                reference=entry.reference,
                description=entry.description,
                created_at=entry.created_at,
            )
            for entry in page.items
        ],
        page=PageInfo(next_cursor=page.next_cursor),
    )


@bp.post("/recharge")
@endpoint("write")
@validate_request(Recharge)
@validate_response(RechargeStarted, 201)
async def recharge_wallet(data: Recharge):
    """Start a PayPal top-up (``recharge_wallet``): answers where to approve it."""
    currency = data.currency.strip().upper()
    amount = payments.parse_amount(data.amount, currency)
    payment, approve_url = await payments.start_recharge(g.user, amount, currency)
    return RechargeStarted(
        payment=payment.code,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        approve_url=approve_url,
    ), 201
