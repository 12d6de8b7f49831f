"""`managely seed-load`: a consistent data set, added in bulk, and nothing more on a rerun."""

from __future__ import annotations

from click.testing import CliRunner

from managely import loadseed
from managely.cli import main
from managely.models.accounts import ServiceBeneficiary, User, UserRole
from managely.models.billing import Wallet, WalletTransaction
from managely.models.operations import SaaSOperation


async def _ledger_matches_balances() -> bool:
    wallets = await Wallet.filter(user__email__endswith=f"@{loadseed.SEED_DOMAIN}")
    for wallet in wallets:
        entries = await WalletTransaction.filter(wallet=wallet).order_by("id")
        running = 0
        for entry in entries:
            running += entry.amount_minor
            if entry.balance_after_minor != running or running < 0:
                return False
        if wallet.balance_minor != running:
            return False
    return True


async def test_seed_load_adds_consistent_rows_once(database):
    added = await loadseed.seed_load(users=50, ledger=500, operations=40)
    assert (added.users, added.ledger, added.operations) == (50, 500, 40)
    seeded = User.filter(email__endswith=f"@{loadseed.SEED_DOMAIN}")
    assert await seeded.count() == 50
    assert (
        await ServiceBeneficiary.filter(owner__email__endswith="load.managely.test").count() == 50
    )
    assert await UserRole.filter(user__email__endswith="load.managely.test").count() == 50
    assert await WalletTransaction.filter(idempotency_key__startswith="load:").count() == 500
    assert await SaaSOperation.filter(status="queued").count() == 0  # nothing for a worker to run
    assert await _ledger_matches_balances()

    again = await loadseed.seed_load(users=50, ledger=500, operations=40)
    assert (again.users, again.ledger, again.operations) == (0, 0, 0)
    assert await WalletTransaction.all().count() == 500

    grown = await loadseed.seed_load(users=60, ledger=620, operations=40)
    assert (grown.users, grown.ledger, grown.operations) == (10, 120, 0)
    assert await _ledger_matches_balances()
    user = await User.create(email="after@example.com", name="After")  # sequences moved on
    assert user.id == 61


def test_seed_load_command_takes_the_sizes():
    result = CliRunner().invoke(main, ["seed-load", "--help"])
    assert result.exit_code == 0
    assert "--users" in result.output and "--ledger" in result.output
