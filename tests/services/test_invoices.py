"""Invoices: gapless numbers under concurrency, frozen buyers, PDFs in English and Arabic,
emailed with the PDF; credit notes and refunds to the wallet or to PayPal, never more than
was paid and never twice for one request."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import pytest

from managely import db, i18n
from managely.models.accounts import ServiceBeneficiary, User
from managely.models.billing import (
    Invoice,
    InvoiceKind,
    InvoiceSequence,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    WalletTransaction,
)
from managely.models.catalog import Package, TaxRate
from managely.models.platform import EmailMessage, EmailStatus
from managely.services import email as email_service
from managely.services import invoice_pdf, invoices, paypal, pricing, refunds, seed, wallet
from managely.services.errors import Conflict, ValidationError
from tests.support import arabic

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
YEAR = datetime.now(UTC).year
BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
async def catalog(database):
    await seed.seed_demo()
    await TaxRate.create(country="SA", rate_bp=1500, name="VAT")


async def issue_for(user: User, *, currency="SAR", period="yearly", paid=True) -> Invoice:
    package = await Package.get(slug="starter")
    company = await ServiceBeneficiary.filter(owner=user).first()
    quote = await pricing.quote(package, period, currency, user=user, beneficiary=company)
    return await invoices.issue(user, quote, beneficiary=company, paid=paid)


async def company_of(user: User, **values: str) -> None:
    await ServiceBeneficiary.filter(owner=user).update(**values)


# Numbers


async def _take_number(user: User, fail: bool) -> str:
    async with db.atomic():
        number = await invoices.next_number(year=2031)
        await Invoice.create(number=number, user=user, currency="USD")
        await asyncio.sleep(0)  # hold the sequence lock across an await: the others queue up
        if fail:
            raise RuntimeError("the purchase failed after taking a number")
    return number


async def test_fifty_concurrent_issues_take_gapless_unique_numbers(alice):
    numbers = await asyncio.gather(*(_take_number(alice, fail=False) for _ in range(50)))
    expected = [f"INV-2031-{n:06d}" for n in range(1, 51)]
    assert sorted(numbers) == expected
    stored = await Invoice.filter(number__startswith="INV-2031-").values_list("number", flat=True)
    assert sorted(stored) == expected
    assert (await InvoiceSequence.get(prefix="INV", year=2031)).last_number == 50


async def test_rolled_back_concurrent_issues_give_their_numbers_back(alice):
    results = await asyncio.gather(
        *(_take_number(alice, fail=n % 5 == 0) for n in range(50)), return_exceptions=True
    )
    assert sum(isinstance(r, RuntimeError) for r in results) == 10
    stored = await Invoice.filter(number__startswith="INV-2031-").values_list("number", flat=True)
    assert sorted(stored) == [f"INV-2031-{n:06d}" for n in range(1, 41)]
    assert (await InvoiceSequence.get(prefix="INV", year=2031)).last_number == 40


async def test_a_rolled_back_issue_gives_its_number_back_and_sends_nothing(
    catalog, alice, run_jobs, smtp
):
    with pytest.raises(RuntimeError):
        async with db.atomic():
            taken = await issue_for(alice)
            raise RuntimeError("payment failed")
    invoice = await issue_for(alice)
    assert invoice.number == taken.number == f"INV-{YEAR}-000001"
    await run_jobs()
    assert len(smtp.to("alice@example.com")) == 1


async def test_an_issued_invoice_freezes_its_buyer_lines_and_totals(catalog, alice):
    await company_of(alice, name="Acme Trading", country="SA", tax_id="300123456700003")
    invoice = await issue_for(alice)
    await company_of(alice, name="Renamed Holdings", tax_id="999")
    await alice.refresh_from_db()
    stored = await Invoice.get(id=invoice.id)
    assert stored.buyer["name"] == "Acme Trading" and stored.buyer["tax_id"] == "300123456700003"
    lines = await invoices.lines_of(stored)
    assert sum(line.amount_minor for line in lines) == stored.subtotal_minor
    assert stored.tax_rate_bp == 1500
    assert stored.tax_minor == pricing.round_half_up(Fraction(stored.subtotal_minor * 15, 100))
    assert stored.total_minor == stored.subtotal_minor + stored.tax_minor
    assert stored.status == InvoiceStatus.PAID and stored.kind == InvoiceKind.INVOICE


async def test_an_issued_invoice_is_emailed_with_its_pdf(catalog, alice, run_jobs, smtp):
    invoice = await issue_for(alice)
    await run_jobs()
    mail = smtp.to("alice@example.com")[-1]
    assert invoice.number in mail["Subject"]
    attachments = list(mail.iter_attachments())
    assert [a.get_filename() for a in attachments] == [f"{invoice.number}.pdf"]
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content().startswith(b"%PDF")
    body = mail.get_body(("plain",)).get_content()
    assert i18n.format_money(invoice.total_minor, "SAR") in body
    assert f"/panel/invoices/{invoice.code}" in body
    stored = await Invoice.get(id=invoice.id)
    assert stored.pdf_path == f"invoices/{YEAR}/{invoice.number}.pdf"
    message = await EmailMessage.get(template="invoice")
    assert message.status == EmailStatus.SENT
    assert not email_service.attachments_dir(message.id).exists()  # dropped once sent


async def test_an_email_never_inherits_files_left_under_its_id(database, run_jobs, smtp):
    # SQLite gives a rolled-back row's id out again; a file left under it must not ride along.
    stale = email_service.attachments_dir(1)
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "someone-elses.pdf").write_bytes(b"%PDF-stale")
    context = {"name": "X", "code": "123456", "minutes": 10}
    message = await email_service.queue_email("x@example.com", "otp", context, "en")
    assert message.id == 1
    await run_jobs()
    assert list(smtp.to("x@example.com")[-1].iter_attachments()) == []


# PDFs


def _pdf_text(path: Path) -> str:
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout
    return BIDI_MARKS.sub("", text.decode())


def _pdf_fonts(path: Path) -> str:
    return subprocess.run(["pdffonts", str(path)], capture_output=True, check=True).stdout.decode()


def _keep(path: Path, name: str) -> Path:
    """Copy the PDF and a 60 dpi PNG of its first page into tests/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    kept = ARTIFACTS / f"{name}.pdf"
    shutil.copyfile(path, kept)
    png = ARTIFACTS / name
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(kept), str(png)], check=True)
    assert png.with_suffix(".png").stat().st_size > 5_000
    return kept


async def test_an_english_invoice_pdf_reads_in_english(catalog, alice):
    await company_of(alice, name="Acme Trading LLC", country="SA", address="12 King Road")
    invoice = await issue_for(alice)
    kept = _keep(await invoice_pdf.ensure_pdf(invoice), "invoice-en")
    text = _pdf_text(kept)
    assert invoice.number in text and "Acme Trading LLC" in text and "12 King Road" in text
    assert "Starter (yearly)" in text
    with i18n.use_locale("en"):
        assert i18n.format_money(invoice.total_minor, "SAR") in text  # "SAR1,234.56"
        assert i18n.format_date(invoice.issued_at, "long") in text  # "March 5, 2026"
    assert "Invoice" in text and "PAID" in text and "Tax (15%)" in text


async def test_an_arabic_invoice_pdf_is_rtl_with_arabic_font_digits_and_dates(catalog, alice):
    await User.filter(id=alice.id).update(locale="ar", arabic_digits=True)
    await alice.refresh_from_db()
    await company_of(alice, name="شركة الأفق للتجارة", country="SA")
    invoice = await issue_for(alice)
    assert invoice.locale == "ar"
    html = await invoice_pdf.render_html(invoice)
    assert 'lang="ar" dir="rtl"' in html
    kept = _keep(await invoice_pdf.ensure_pdf(invoice), "invoice-ar")
    text = _pdf_text(kept)
    assert invoice.number in text
    assert "المبتدئ" in text  # the package's Arabic name, frozen on the line
    assert "الأفق" in text and "للتجارة" in text
    assert arabic("Total") in text
    with i18n.use_locale("ar", arabic_digits=True):
        money = i18n.format_money(invoice.total_minor, "SAR")
        day = i18n.format_date(invoice.issued_at, "long")
    digits = re.search(r"[٠-٩][٠-٩٬٫]*", money).group()
    assert digits in text and not re.search(r"\d[\d,]*\.\d\d", text.replace(invoice.number, ""))
    for word in day.split():  # "٥ مارس ٢٠٢٦": Arabic-Indic day and year, Arabic month
        assert word in text
    fonts = _pdf_fonts(kept)
    assert re.search(r"Noto-(Naskh|Sans)-Arabic|Amiri", fonts), fonts


async def test_a_status_change_draws_the_pdf_again(catalog, alice):
    invoice = await issue_for(alice, paid=False)
    first = _pdf_text(await invoice_pdf.ensure_pdf(invoice))
    assert "OPEN" in first and "Amount due" in first  # the stamp is upper-cased by the CSS
    await invoices.void(invoice, None, "order cancelled")
    assert invoice.pdf_path is None and invoice.status == InvoiceStatus.VOID
    second = _pdf_text(await invoice_pdf.ensure_pdf(invoice))
    assert "VOID" in second and "not payable" in second


# Void


async def test_an_open_invoice_is_voided_once_and_a_paid_one_is_not(catalog, alice):
    open_invoice = await issue_for(alice, paid=False)
    voided = await invoices.void(open_invoice, None, "duplicate")
    assert voided.status == InvoiceStatus.VOID and voided.voided_at is not None
    with pytest.raises(Conflict):
        await invoices.void(open_invoice, None, "again")
    paid = await issue_for(alice)
    with pytest.raises(Conflict, match="corrected by a refund"):
        await invoices.void(paid, None, "nope")
    assert (await Invoice.get(id=paid.id)).status == InvoiceStatus.PAID


# Refunds and credit notes


async def test_a_wallet_refund_credits_once_for_a_repeated_key(catalog, alice, bob, run_jobs):
    invoice = await issue_for(alice)
    part = invoice.total_minor // 2
    first = await refunds.refund(invoice, part, refunds.WALLET, "unhappy", bob, key="req-1")
    again = await refunds.refund(invoice, part, refunds.WALLET, "unhappy", bob, key="req-1")
    assert again.id == first.id and first.status == RefundStatus.SUCCEEDED
    assert await wallet.balance(alice, "SAR") == part
    entries = await WalletTransaction.filter(idempotency_key=f"refund:{first.code}")
    assert len(entries) == 1 and entries[0].amount_minor == part
    note = await Invoice.get(id=first.credit_note_id)
    assert note.number == f"CN-{YEAR}-000001" and note.kind == InvoiceKind.CREDIT_NOTE
    assert note.credit_for_id == invoice.id and note.status == InvoiceStatus.PAID
    assert note.total_minor == part and note.subtotal_minor + note.tax_minor == part
    assert note.buyer == invoice.buyer and entries[0].reference == note.number
    with pytest.raises(Conflict):
        await refunds.refund(invoice, part + 1, refunds.WALLET, "x", bob, key="req-1")
    # Credit notes have their own sequence: the next invoice is still INV-…-000002.
    assert (await issue_for(alice)).number == f"INV-{YEAR}-000002"
    await run_jobs()


async def test_a_full_refund_credits_exactly_the_tax_paid(catalog, alice, bob):
    invoice = await issue_for(alice)
    made = await refunds.refund(invoice, invoice.total_minor, "wallet", "cancel", bob, key="k")
    note = await Invoice.get(id=made.credit_note_id)
    assert (note.subtotal_minor, note.tax_minor) == (invoice.subtotal_minor, invoice.tax_minor)
    assert invoices.signed_total(note) == -invoice.total_minor


async def test_a_refund_above_what_was_paid_is_refused(catalog, alice, bob):
    invoice = await issue_for(alice)
    await refunds.refund(invoice, invoice.total_minor - 100, refunds.WALLET, "", bob, key="a")
    with pytest.raises(ValidationError) as refused:
        await refunds.refund(invoice, 101, refunds.WALLET, "", bob, key="b")
    assert refused.value.field == "amount"
    assert i18n.format_money(100, "SAR") in str(refused.value)
    assert await refunds.refundable_minor(invoice) == 100
    assert await Refund.filter(invoice=invoice).count() == 1
    assert await Invoice.filter(kind=InvoiceKind.CREDIT_NOTE).count() == 1
    open_invoice = await issue_for(alice, paid=False)
    with pytest.raises(ValidationError, match="Only a paid invoice"):
        await refunds.refund(open_invoice, 100, refunds.WALLET, "", bob, key="c")


async def test_racing_refunds_never_return_more_than_was_paid(catalog, alice, bob):
    invoice = await issue_for(alice)
    share = invoice.total_minor * 6 // 10

    async def attempt(n: int):
        try:
            return await refunds.refund(invoice, share, refunds.WALLET, "", bob, key=f"race-{n}")
        except ValidationError:
            return None

    results = await asyncio.gather(*(attempt(n) for n in range(4)))
    assert sum(r is not None for r in results) == 1
    assert await wallet.balance(alice, "SAR") == share


class FakePayPal:
    """Stands in for ``paypal.PayPal``: records refund calls, answers like PayPal."""

    calls: list[dict] = []
    fail_next = False

    def __init__(self, settings) -> None:
        assert settings.enabled

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    async def refund_capture(self, capture_id, *, request_id, amount_minor=None, currency=""):
        FakePayPal.calls.append(
            {"capture": capture_id, "request_id": request_id, "amount": amount_minor}
        )
        if FakePayPal.fail_next:
            FakePayPal.fail_next = False
            raise paypal.GatewayUnavailable()
        return paypal.Refund(
            id=f"RF{len(FakePayPal.calls)}",
            status="COMPLETED",
            amount_minor=amount_minor,
            currency=currency,
            capture_id=capture_id,
        )


@pytest.fixture
def fake_paypal(monkeypatch):
    from managely import settings

    for name, value in (("CLIENT_ID", "id"), ("CLIENT_SECRET", "secret"), ("WEBHOOK_ID", "wh")):
        monkeypatch.setenv(f"MANAGELY_PAYPAL_{name}", value)
    settings.reset()
    FakePayPal.calls, FakePayPal.fail_next = [], False
    monkeypatch.setattr(paypal, "PayPal", FakePayPal)
    yield FakePayPal
    monkeypatch.undo()
    settings.reset()


async def _paid_with_paypal(user: User) -> Invoice:
    invoice = await issue_for(user, currency="USD")
    await Payment.create(
        user=user,
        invoice=invoice,
        gateway="paypal",
        gateway_order_id="ORDER1",
        gateway_capture_id="CAPTURE1",
        amount_minor=invoice.total_minor,
        currency="USD",
        status=PaymentStatus.CAPTURED,
    )
    return invoice


async def test_a_paypal_refund_refunds_the_capture_once(catalog, alice, bob, fake_paypal):
    invoice = await _paid_with_paypal(alice)
    made = await refunds.refund(invoice, invoice.total_minor, refunds.PAYPAL, "", bob, key="p1")
    again = await refunds.refund(invoice, invoice.total_minor, refunds.PAYPAL, "", bob, key="p1")
    assert again.id == made.id
    assert fake_paypal.calls == [
        {"capture": "CAPTURE1", "request_id": f"refund-{made.code}", "amount": invoice.total_minor}
    ]
    assert made.status == RefundStatus.SUCCEEDED and made.gateway_refund_id == "RF1"
    note = await Invoice.get(id=made.credit_note_id)
    assert note.status == InvoiceStatus.PAID and note.number == f"CN-{YEAR}-000001"
    assert (await Payment.get(gateway_capture_id="CAPTURE1")).status == PaymentStatus.REFUNDED
    assert await wallet.balance(alice, "USD") == 0  # PayPal, not the wallet


async def test_a_paypal_timeout_keeps_the_refund_reserved_and_the_key_retries(
    catalog, alice, bob, fake_paypal
):
    invoice = await _paid_with_paypal(alice)
    fake_paypal.fail_next = True
    with pytest.raises(paypal.GatewayUnavailable):
        await refunds.refund(invoice, 500, refunds.PAYPAL, "", bob, key="p2")
    pending = await Refund.get(idempotency_key="p2")
    assert pending.status == RefundStatus.PENDING and "PayPal" in pending.error
    assert await refunds.refundable_minor(invoice) == invoice.total_minor - 500
    note = await Invoice.get(id=pending.credit_note_id)
    assert note.status == InvoiceStatus.OPEN
    done = await refunds.refund(invoice, 500, refunds.PAYPAL, "", bob, key="p2")
    assert done.status == RefundStatus.SUCCEEDED
    assert [c["request_id"] for c in fake_paypal.calls] == [f"refund-{pending.code}"] * 2
    assert (await Payment.get(gateway_capture_id="CAPTURE1")).status == PaymentStatus.REFUNDED
    # A second partial refund of the same capture is bounded by what is left of it.
    with pytest.raises(ValidationError):
        await refunds.refund(invoice, invoice.total_minor, refunds.PAYPAL, "", bob, key="p2b")
    rest = await refunds.refund(
        invoice, invoice.total_minor - 500, refunds.PAYPAL, "", bob, key="p2c"
    )
    assert rest.status == RefundStatus.SUCCEEDED and await refunds.refundable_minor(invoice) == 0


async def test_a_paypal_refund_needs_a_paypal_payment(catalog, alice, bob, fake_paypal):
    invoice = await issue_for(alice)
    with pytest.raises(ValidationError, match="not paid with PayPal"):
        await refunds.refund(invoice, 100, refunds.PAYPAL, "", bob, key="p3")
    assert fake_paypal.calls == [] and await Refund.all().count() == 0
    assert await Invoice.filter(kind=InvoiceKind.CREDIT_NOTE).count() == 0
