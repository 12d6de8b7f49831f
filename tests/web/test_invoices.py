"""The customer's invoices: the list, one invoice and its PDF for the owner; 404 for others."""

from __future__ import annotations

from managely.models.billing import Invoice
from managely.services import refunds
from tests.support import text
from tests.web.routes import make_invoice


async def test_the_owner_lists_their_invoices_and_credit_notes_only(
    app, alice, charlie, alice_client
):
    mine = await make_invoice(alice)
    theirs = await make_invoice(charlie)
    made = await refunds.refund(mine, 900, refunds.WALLET, "goodwill", None, key="w1")
    note = await Invoice.get(id=made.credit_note_id)
    response = await alice_client.get("/panel/invoices")
    page = await text(response)
    assert response.status_code == 200
    assert mine.number in page and note.number in page and "Credit note" in page
    assert theirs.number not in page
    assert f"/panel/invoices/{mine.code}.pdf" in page
    assert "$29.00" in page and "$9.00" in page


async def test_the_owner_sees_an_invoice_with_its_lines_and_credit_notes(app, alice, alice_client):
    invoice = await make_invoice(alice)
    made = await refunds.refund(invoice, 900, refunds.WALLET, "", None, key="w2")
    note = await Invoice.get(id=made.credit_note_id)
    response = await alice_client.get(f"/panel/invoices/{invoice.code}")
    page = await text(response)
    assert response.status_code == 200
    assert invoice.number in page and "Starter (monthly)" in page and "$29.00" in page
    assert note.number in page and f"/panel/invoices/{note.code}" in page
    page = await text(await alice_client.get(f"/panel/invoices/{note.code}"))
    assert "Corrects invoice" in page and invoice.number in page and "$9.00" in page


async def test_the_owner_downloads_the_pdf_as_an_attachment(app, alice, alice_client):
    invoice = await make_invoice(alice)
    response = await alice_client.get(f"/panel/invoices/{invoice.code}.pdf")
    body = await response.get_data()
    assert response.status_code == 200
    assert response.content_type == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{invoice.number}.pdf"'
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    assert body.startswith(b"%PDF")
    stored = await Invoice.get(id=invoice.id)
    assert stored.pdf_path == f"invoices/{invoice.issued_at.year}/{invoice.number}.pdf"
    again = await alice_client.get(f"/panel/invoices/{invoice.code}.pdf")
    assert await again.get_data() == body  # served from the stored file


async def test_an_outsider_gets_404_for_an_invoice_and_its_pdf(app, alice, charlie_client):
    invoice = await make_invoice(alice)
    for url in (f"/panel/invoices/{invoice.code}", f"/panel/invoices/{invoice.code}.pdf"):
        assert (await charlie_client.get(url)).status_code == 404, url
    assert (await Invoice.get(id=invoice.id)).pdf_path is None  # nothing was drawn for them


async def test_a_draft_is_not_shown_even_to_its_owner(app, alice, alice_client):
    draft = await Invoice.create(user=alice, currency="USD")
    assert (await alice_client.get(f"/panel/invoices/{draft.code}")).status_code == 404
    assert (await alice_client.get(f"/panel/invoices/{draft.code}.pdf")).status_code == 404


async def test_anonymous_visitors_are_sent_to_sign_in(app, alice, client):
    invoice = await make_invoice(alice)
    for url in ("/panel/invoices", f"/panel/invoices/{invoice.code}.pdf"):
        response = await client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
