"""Customer panel extras: the wallet ledger's filters, add-on refunds and install logs."""

from __future__ import annotations

from managely.models.billing import WalletTransaction, WalletTransactionKind
from managely.services import wallet
from tests.conftest import ROOT
from tests.support import text

SCRIPTS = ROOT / "ops" / "scripts"


async def test_the_wallet_page_filters_movements_and_explains_a_bad_date(alice, alice_client):
    await wallet.post(alice, "USD", 7_000, WalletTransactionKind.RECHARGE, "w:1")
    await wallet.post(alice, "USD", -1_234, WalletTransactionKind.CHARGE, "w:2")
    charges = await text(await alice_client.get("/panel/wallet?currency=USD&kind=charge"))
    assert "-$12.34" in charges and "$70.00" not in charges.split('id="ledger-filters"')[1]
    bad = await alice_client.get("/panel/wallet?currency=USD&from=yesterday")
    body = await text(bad)
    assert bad.status_code == 400 and "Enter a date as YYYY-MM-DD" in body
    assert await WalletTransaction.all().count() == 2


async def test_every_declared_operation_step_has_a_translated_label(app):
    from managely.services import operations

    # The product's operations, not the ones tests register around a script of their own.
    shipped = [s for s in operations.SPECS.values() if (SCRIPTS / str(s.script)).is_file()]
    names = sorted({step for spec in shipped for step in spec.steps})
    source = '{% from "_macros.html" import step_label %}{{ step_label(name) }}'
    async with app.test_request_context("/"):
        template = app.jinja_env.from_string(source)
        rendered = {n: (await template.render_async(name=n)).strip() for n in names}
    unlabelled = [n for n in names if rendered[n] == n.replace("_", " ")]
    assert "backup" in {str(k) for k in operations.SPECS} and "restore" in operations.SPECS
    assert unlabelled == []
