"""The wallet ledger: idempotent entries, no overdraft even under races, balance = sum."""

from __future__ import annotations

import asyncio

import pytest

from managely.models.billing import WalletTransaction, WalletTransactionKind
from managely.services import wallet
from managely.services.errors import Conflict

RECHARGE, CHARGE = WalletTransactionKind.RECHARGE, WalletTransactionKind.CHARGE


async def test_credits_and_debits_move_the_balance_and_record_it(alice):
    first = await wallet.post(alice, "usd", 10_000, RECHARGE, "paypal:cap-1")
    assert first.balance_after_minor == 10_000
    second = await wallet.post(alice, "USD", -2_900, CHARGE, "order:1", reference="INV-1")
    assert second.balance_after_minor == 7_100
    assert await wallet.balance(alice, "USD") == 7_100
    entries = await wallet.ledger(alice, "USD")
    assert [e.amount_minor for e in entries] == [-2_900, 10_000]
    assert sum(e.amount_minor for e in entries) == await wallet.balance(alice, "USD")


async def test_a_replayed_key_moves_money_once(alice):
    entries = [await wallet.post(alice, "USD", 5_000, RECHARGE, "paypal:cap-2") for _ in range(3)]
    assert len({e.id for e in entries}) == 1
    assert await wallet.balance(alice, "USD") == 5_000
    with pytest.raises(Conflict):
        await wallet.post(alice, "USD", 6_000, RECHARGE, "paypal:cap-2")


async def test_a_debit_larger_than_the_balance_is_refused_and_writes_nothing(alice):
    await wallet.post(alice, "USD", 1_000, RECHARGE, "r1")
    with pytest.raises(wallet.InsufficientFunds) as refused:
        await wallet.post(alice, "USD", -2_900, CHARGE, "order:2")
    assert refused.value.shortfall_minor == 1_900 and refused.value.status == 402
    assert "Top it up" in str(refused.value)
    assert await wallet.balance(alice, "USD") == 1_000
    assert not await WalletTransaction.exists(idempotency_key="order:2")


async def test_racing_debits_never_overdraw(alice):
    await wallet.post(alice, "USD", 10_000, RECHARGE, "r2")

    async def buy(n: int):
        try:
            return await wallet.post(alice, "USD", -6_000, CHARGE, f"order:race:{n}")
        except wallet.InsufficientFunds:
            return None

    results = await asyncio.gather(*(buy(n) for n in range(5)))
    assert sum(r is not None for r in results) == 1
    assert await wallet.balance(alice, "USD") == 4_000


async def test_racing_replays_of_one_key_post_once(alice):
    results = await asyncio.gather(
        *(wallet.post(alice, "USD", 700, RECHARGE, "paypal:cap-race") for _ in range(5))
    )
    assert len({r.id for r in results}) == 1
    assert await wallet.balance(alice, "USD") == 700


async def test_wallets_are_per_user_and_currency(alice, charlie):
    await wallet.post(alice, "USD", 900, RECHARGE, "a-usd")
    await wallet.post(alice, "SAR", 300, RECHARGE, "a-sar")
    assert await wallet.balance(charlie, "USD") == 0
    assert await wallet.balance(alice, "SAR") == 300
    assert await wallet.ledger(charlie, "USD") == []


async def test_the_ledger_filters_by_kind_and_by_days_both_included(alice):
    from datetime import UTC, datetime

    from managely.services.errors import ValidationError

    await wallet.post(alice, "USD", 5_000, RECHARGE, "f:1")
    await wallet.post(alice, "USD", -1_000, CHARGE, "f:2")
    await wallet.post(alice, "USD", -500, CHARGE, "f:3")
    for key, day in (("f:1", 1), ("f:2", 10), ("f:3", 20)):
        moment = datetime(2025, 3, day, 23, 59, tzinfo=UTC)
        await WalletTransaction.filter(idempotency_key=key).update(created_at=moment)

    async def keys(**typed: str) -> list[str]:
        entries = await wallet.ledger(alice, "USD", filters=wallet.ledger_filter(**typed))
        return [e.idempotency_key for e in entries]

    assert await keys(kind="charge") == ["f:3", "f:2"]
    assert await keys(date_from="2025-03-10", date_to="2025-03-10") == ["f:2"]
    assert await keys(kind="charge", date_to="2025-03-15") == ["f:2"]
    assert await keys(date_from="2025-03-02") == ["f:3", "f:2"]
    for typed, field in (
        ({"date_from": "31/03/2025"}, "date_from"),
        ({"date_from": "2025-03-20", "date_to": "2025-03-01"}, "date_to"),
        ({"kind": "gift"}, "kind"),
    ):
        with pytest.raises(ValidationError) as caught:
            wallet.ledger_filter(**typed)
        assert caught.value.field == field
