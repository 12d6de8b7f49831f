"""Support tickets: open one with files, follow and answer the thread, staff replies and notes,
live updates over SSE, and the inputs that must write nothing at all."""

from __future__ import annotations

import asyncio
import hashlib
import io

import pytest
from werkzeug.datastructures import FileStorage

from managely.models.support import SupportTicket, TicketAttachment, TicketReply, TicketStatus
from managely.services import support
from managely.settings import get_settings
from tests.support import text
from tests.web.routes import make_launch, make_ticket

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


def upload(name: str, content: bytes, kind: str = "application/octet-stream") -> FileStorage:
    return FileStorage(io.BytesIO(content), filename=name, content_type=kind)


class SameFieldFiles(list):
    """Several files under one field name: Quart's test client only walks ``.items()``."""

    def items(self):
        return iter(self)


def ticket_form(**overrides: str) -> dict[str, str]:
    return {
        "subject": "Invoices do not print",
        "department": "technical",
        "priority": "high",
        "launch": "",
        "message": "Printing an invoice shows an error.\nSince this morning.",
        **overrides,
    }


def stored_files() -> set:
    """Every stored attachment file (the data directory is shared by the whole session)."""
    root = get_settings().data_dir / "attachments"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


async def test_a_customer_opens_a_ticket_with_an_attachment(app, alice, alice_client):
    launch, _ = await make_launch(alice)
    response = await alice_client.post(
        "/support_ticket",
        ticket_form(launch=launch.code),
        files=SameFieldFiles(
            [
                ("attachments", upload("screen.png", PNG, "image/png")),
                ("attachments", upload("../../etc/report.pdf", b"%PDF-1.7\n%...")),
            ]
        ),
    )
    assert response.status_code == 302, await text(response)
    ticket = await SupportTicket.get(user=alice).prefetch_related("launch")
    assert response.headers["Location"] == f"/panel/support/{ticket.code}"
    assert ticket.subject == "Invoices do not print" and ticket.priority == "high"
    assert ticket.status == TicketStatus.OPEN and ticket.launch.code == launch.code
    assert ticket.first_response_due_at is not None
    pdf, stored = await TicketAttachment.filter(reply__ticket=ticket).order_by("filename")
    assert pdf.filename == "report.pdf" and pdf.content_type == "application/pdf"
    assert stored.filename == "screen.png" and stored.content_type == "image/png"
    assert stored.sha256 == hashlib.sha256(PNG).hexdigest() and stored.size_bytes == len(PNG)
    path = get_settings().data_dir / "attachments" / ticket.code / stored.sha256
    assert path.read_bytes() == PNG and stored.storage_path.endswith(stored.sha256)


async def test_the_owner_lists_and_reads_their_tickets_only(app, alice, charlie, alice_client):
    mine, _ = await make_ticket(alice)
    theirs, _ = await make_ticket(charlie)
    theirs.subject = "Charlie's secret"
    await theirs.save()
    page = await text(await alice_client.get("/panel/support"))
    assert f"/panel/support/{mine.code}" in page and "Route test" in page
    assert theirs.code not in page and "Charlie&#39;s secret" not in page
    response = await alice_client.get(f"/panel/support/{mine.code}")
    page = await text(response)
    assert response.status_code == 200
    assert "It does not start." in page and "notes.txt" in page
    assert f'sse-connect="/panel/support/{mine.code}/events"' in page
    assert "Waiting for support" not in page and "Open" in page


async def test_a_customer_reply_joins_the_thread(app, alice, alice_client):
    ticket, _ = await make_ticket(alice)
    ticket.status = TicketStatus.RESOLVED
    await ticket.save()
    response = await alice_client.post(
        f"/panel/support/{ticket.code}/reply", {"message": "It broke again."}
    )
    assert response.status_code == 302
    page = await text(await alice_client.get(f"/panel/support/{ticket.code}"))
    assert "It does not start." in page and "It broke again." in page
    assert page.index("It does not start.") < page.index("It broke again.")
    await ticket.refresh_from_db()
    assert ticket.status == TicketStatus.PENDING_STAFF, "writing again reopens it"


# What a browser's EventSource asks for: the stream goes on outside Quart's request (HandOff).
EVENT_STREAM = {"Accept": "text/event-stream"}


async def _read_frame(connection, timeout: float = 5.0) -> str:
    data = b""
    while not data.endswith(b"\n\n"):
        data += await asyncio.wait_for(connection.receive(), timeout)
    return data.decode()


async def test_a_staff_reply_emails_the_customer_once_and_reaches_the_open_page_live(
    app, alice, bob, alice_client, bob_client, smtp, run_jobs
):
    ticket, _ = await make_ticket(alice)
    async with alice_client.client.request(
        f"/panel/support/{ticket.code}/events", headers=EVENT_STREAM
    ) as stream:
        await stream.send_complete()
        first = await _read_frame(stream)
        assert first.startswith("event: replies") and "It does not start." in first
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")

        response = await bob_client.post(
            f"/admin/support/{ticket.code}/reply", {"message": "Fixed on our side, try again."}
        )
        assert response.status_code == 302, await text(response)
        pushed = await _read_frame(stream)
        await stream.disconnect()
    reply = await TicketReply.get(ticket=ticket, author=bob)
    assert pushed.startswith("event: replies") and f"id: {reply.code}" in pushed
    assert "Fixed on our side, try again." in pushed and "It does not start." in pushed

    await run_jobs()
    mails = smtp.to("alice@example.com")
    assert len(mails) == 1
    assert "Route test" in mails[0]["Subject"]
    body = mails[0].get_body(("plain",)).get_content()
    assert "Fixed on our side, try again." in body and f"/panel/support/{ticket.code}" in body
    await ticket.refresh_from_db()
    assert ticket.status == TicketStatus.PENDING_CUSTOMER and ticket.first_response_at


async def test_the_stream_resumes_without_repeating_and_ends_when_closed(
    app, alice, bob, alice_client, bob_client
):
    ticket, _ = await make_ticket(alice)
    latest = await TicketReply.get(ticket=ticket)
    async with alice_client.client.request(
        f"/panel/support/{ticket.code}/events",
        headers={**EVENT_STREAM, "Last-Event-ID": latest.code},
    ) as stream:
        await stream.send_complete()
        closing = bob_client.post(
            f"/admin/support/{ticket.code}/update",
            {"status": "closed", "assignee": bob.code, "tags": "printing"},
        )
        await asyncio.sleep(0.2)  # let the stream subscribe before the change
        assert (await closing).status_code == 302
        frame = await _read_frame(stream)
    assert frame.startswith("event: closed"), "nothing new to resend: only the end"


async def test_internal_notes_stay_with_staff(
    app, alice, bob, alice_client, bob_client, smtp, run_jobs
):
    ticket, _ = await make_ticket(alice)
    response = await bob_client.post(
        f"/admin/support/{ticket.code}/reply",
        {"message": "Customer is on the old plan.", "internal": "1"},
        files={"attachments": upload("debug.log", b"trace\n", "text/plain")},
    )
    assert response.status_code == 302
    note = await TicketReply.get(ticket=ticket, is_internal=True)
    hidden = await TicketAttachment.get(reply=note)
    staff_page = await text(await bob_client.get(f"/admin/support/{ticket.code}"))
    assert "Customer is on the old plan." in staff_page and "Internal note" in staff_page
    page = await text(await alice_client.get(f"/panel/support/{ticket.code}"))
    assert "Customer is on the old plan." not in page and "debug.log" not in page
    replies = await text(await alice_client.get(f"/panel/support/{ticket.code}/replies"))
    assert "Customer is on the old plan." not in replies
    url = f"/panel/support/{ticket.code}/attachments/{hidden.code}"
    assert (await alice_client.get(url)).status_code == 404
    assert (await bob_client.get(url)).status_code == 200
    await run_jobs()
    assert smtp.to("alice@example.com") == []
    await ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


async def test_staff_filter_the_list_and_change_status_assignee_and_tags(
    app, alice, bob, bob_client, admin_client
):
    technical, _ = await make_ticket(alice)
    billing = await support.create_ticket(
        alice, subject="Wrong charge", department="billing", priority="low", message="Twice."
    )
    page = await text(await bob_client.get("/admin/support?department=billing"))
    assert "Wrong charge" in page and "Route test" not in page
    url = f"/admin/support/{technical.code}"
    assert (await bob_client.post(f"{url}/update", {"status": "resolved"})).status_code == 302
    assert (await admin_client.post(f"{url}/assign", {"assignee": bob.code})).status_code == 302
    tagged = await admin_client.post(f"{url}/tags", {"tags": "Printing, urgent-fix"})
    assert tagged.status_code == 302
    ticket = await SupportTicket.get(id=technical.id).prefetch_related("tags")
    assert ticket.status == TicketStatus.RESOLVED and ticket.assignee_id == bob.id
    assert sorted(t.name for t in ticket.tags) == ["printing", "urgent-fix"]
    page = await text(await bob_client.get("/admin/support?status=resolved"))
    assert "Route test" in page and "Wrong charge" not in page and "printing" in page
    assert billing.status == TicketStatus.OPEN


async def test_customers_cannot_use_the_staff_screens(app, alice, alice_client):
    ticket, _ = await make_ticket(alice)
    assert (await alice_client.get("/admin/support")).status_code == 403
    response = await alice_client.post(f"/admin/support/{ticket.code}/reply", {"message": "x"})
    assert response.status_code == 403
    assert await TicketReply.filter(ticket=ticket).count() == 1


async def test_an_oversized_attachment_writes_nothing(app, alice, alice_client):
    before = stored_files()
    big = b"a" * (support.MAX_FILE_BYTES + 1)
    response = await alice_client.post(
        "/support_ticket", ticket_form(), files={"attachments": upload("big.txt", big)}
    )
    page = await text(response)
    assert response.status_code == 400
    assert "“big.txt” is larger than 5 MB." in page
    assert 'value="Invoices do not print"' in page, "the form keeps what was typed"
    assert await SupportTicket.all().count() == 0 and await TicketReply.all().count() == 0
    assert stored_files() == before


async def test_a_disguised_file_writes_nothing(app, alice, alice_client):
    before = stored_files()
    for name, content in [
        ("photo.png", b"MZ\x90\x00\x03\x00\x00\x00 this is a windows program"),
        ("photo.png", b"<!DOCTYPE html><script>alert(1)</script>"),
        ("notes.txt", b"<html><body onload=alert(1)></body></html>"),
        ("run.exe", b"MZ\x90\x00"),
    ]:
        response = await alice_client.post(
            "/support_ticket",
            ticket_form(),
            files={"attachments": upload(name, content, "image/png")},
        )
        page = await text(response)
        assert response.status_code == 400, name
        assert f"“{name}” is not a PNG, JPEG, PDF or text (TXT, LOG, CSV) file." in page
    assert await SupportTicket.all().count() == 0 and await TicketAttachment.all().count() == 0
    assert stored_files() == before


async def test_a_bad_file_on_a_reply_writes_nothing(app, alice, alice_client):
    ticket, _ = await make_ticket(alice)
    before = stored_files()
    response = await alice_client.post(
        f"/panel/support/{ticket.code}/reply",
        {"message": "See the screenshot."},
        files={"attachments": upload("shot.png", b"<html></html>")},
    )
    assert response.status_code == 400
    assert "is not a PNG, JPEG, PDF or text" in await text(response)
    assert await TicketReply.filter(ticket=ticket).count() == 1
    assert stored_files() == before


async def test_too_many_files_are_refused(app, alice, alice_client):
    before = stored_files()
    files = SameFieldFiles(
        ("attachments", upload(f"n{i}.txt", b"x")) for i in range(support.MAX_FILES + 1)
    )
    response = await alice_client.post("/support_ticket", ticket_form(), files=files)
    assert response.status_code == 400
    assert "Attach at most 5 files." in await text(response)
    assert await SupportTicket.all().count() == 0 and stored_files() == before


async def test_an_empty_subject_and_message_show_field_errors(app, alice, alice_client):
    response = await alice_client.post("/support_ticket", ticket_form(subject=" ", message=""))
    page = await text(response)
    assert response.status_code == 400
    assert 'id="e-subject"' in page and "Please give your request a subject." in page
    assert 'id="e-message"' in page and "Please write your message." in page
    assert await SupportTicket.all().count() == 0
    ticket, _ = await make_ticket(alice)
    response = await alice_client.post(f"/panel/support/{ticket.code}/reply", {"message": "  "})
    assert response.status_code == 400 and 'id="e-message"' in await text(response)
    assert await TicketReply.filter(ticket=ticket).count() == 1


async def test_a_foreign_system_cannot_be_named(app, alice, charlie, alice_client):
    theirs, _ = await make_launch(charlie)
    response = await alice_client.post("/support_ticket", ticket_form(launch=theirs.code))
    assert response.status_code == 400
    assert "Choose one of your systems." in await text(response)
    assert await SupportTicket.all().count() == 0


async def test_every_ticket_route_is_a_404_for_an_outsider(app, alice, charlie_client):
    ticket, attachment = await make_ticket(alice)
    base = f"/panel/support/{ticket.code}"
    for url in (base, f"{base}/replies", f"{base}/events", f"{base}/attachments/{attachment.code}"):
        assert (await charlie_client.get(url)).status_code == 404, url
    response = await charlie_client.post(f"{base}/reply", {"message": "Let me in."})
    assert response.status_code == 404
    assert await TicketReply.filter(ticket=ticket).count() == 1


async def test_attachments_download_for_the_owner_and_staff_only(
    app, alice, alice_client, bob_client, charlie_client, client
):
    ticket, attachment = await make_ticket(alice)
    url = f"/panel/support/{ticket.code}/attachments/{attachment.code}"
    for browser in (alice_client, bob_client):
        response = await browser.get(url)
        assert response.status_code == 200
        assert await response.get_data() == b"line one\n"
        assert response.headers["Content-Disposition"].startswith(
            'attachment; filename="notes.txt"'
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert (await charlie_client.get(url)).status_code == 404
    anonymous = await client.get(url)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")


async def test_a_body_past_the_upload_limit_shows_the_forms_own_error_and_saves_nothing(
    app, alice, bob_client, alice_client
):
    ticket, _ = await make_ticket(alice)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # the app-wide limit, small for the test
    replies, tickets = await TicketReply.all().count(), await SupportTicket.all().count()
    for client, url, form in (
        (alice_client, "/support_ticket", ticket_form()),
        (alice_client, f"/panel/support/{ticket.code}/reply", {"message": "See file"}),
        (bob_client, f"/admin/support/{ticket.code}/reply", {"message": "See file"}),
    ):
        big = {"attachments": upload("big.txt", b"a" * 100_000, "text/plain")}
        response = await client.post(url, form, files=big)
        body = await text(response)
        assert response.status_code == 413, url
        assert "The files are too large. Attach up to 5 files of 5 MB each." in body, url
        assert 'name="message"' in body, url
    assert await TicketReply.all().count() == replies
    assert await SupportTicket.all().count() == tickets


# --- the staff desk -----------------------------------------------------------------------


@pytest.fixture
async def admin_client(app):
    from tests.conftest import PASSWORD, make_user
    from tests.support import Browser

    user = await make_user("desk@staff.example.com", "admin", "Dana Desk")
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    return browser


async def test_the_staff_thread_is_live_with_notes_and_the_customers_never_carries_one(
    app, alice, bob, alice_client, bob_client
):
    ticket, _ = await make_ticket(alice)
    customer = alice_client.client.request(
        f"/panel/support/{ticket.code}/events", headers=EVENT_STREAM
    )
    staff = bob_client.client.request(f"/admin/support/{ticket.code}/events", headers=EVENT_STREAM)
    async with customer as customer_stream, staff as staff_stream:
        for stream in (customer_stream, staff_stream):
            await stream.send_complete()
            assert "It does not start." in await _read_frame(stream)
        note = {"message": "Customer is on the old plan.", "internal": "1"}
        assert (await bob_client.post(f"/admin/support/{ticket.code}/reply", note)).status_code
        staff_frame = await _read_frame(staff_stream)
        answer = {"message": "Please restart the system."}
        await bob_client.post(f"/admin/support/{ticket.code}/reply", answer)
        customer_frame = await _read_frame(customer_stream)
        staff_after = await _read_frame(staff_stream)
        await customer_stream.disconnect()
        await staff_stream.disconnect()
    assert "Customer is on the old plan." in staff_frame and "Internal note" in staff_frame
    assert "Please restart the system." in customer_frame
    assert "Customer is on the old plan." not in customer_frame
    assert "Internal note" not in customer_frame
    assert "Please restart the system." in staff_after and "old plan" in staff_after


async def test_the_desk_counts_its_queues_and_highlights_an_overdue_sla(
    app, alice, bob, bob_client
):
    from datetime import UTC, datetime, timedelta

    late, _ = await make_ticket(alice)
    await support.create_ticket(
        alice, subject="Refund please", department="billing", priority="urgent", message="Hi"
    )
    late.first_response_due_at = datetime.now(UTC) - timedelta(hours=3)
    late.assignee = bob
    await late.save()
    page = await text(await bob_client.get("/admin/support"))
    assert 'data-count="status-open">2<' in page and "(1 open)" in page
    row = page.split("Route test")[0].rsplit("<tr", 1)[1]
    assert 'class="row--overdue"' in row
    assert "First answer overdue by 3 hours" in page and "Resolution due in" in page
    mine = await text(await bob_client.get("/admin/support?assignee=me"))
    assert "Route test" in mine and "Refund please" not in mine
    nobody = await text(await bob_client.get("/admin/support?assignee=none&department=billing"))
    assert "Refund please" in nobody and "Route test" not in nobody


async def test_assigning_and_tagging_need_support_manage_and_are_audited(
    app, alice, bob, bob_client, admin_client
):
    from managely.models.platform import AuditLog

    ticket, _ = await make_ticket(alice)
    url = f"/admin/support/{ticket.code}"
    assert (await bob_client.post(f"{url}/assign", {"assignee": bob.code})).status_code == 403
    assert (await bob_client.post(f"{url}/tags", {"tags": "vip"})).status_code == 403
    assert (await admin_client.post(f"{url}/assign", {"assignee": bob.code})).status_code == 302
    assert (await admin_client.post(f"{url}/tags", {"tags": "vip, slow"})).status_code == 302
    removed = await admin_client.post(f"{url}/tags/remove", {"tag": "slow"})
    assert removed.status_code == 302
    wrong = await admin_client.post(f"{url}/assign", {"assignee": alice.code})
    assert wrong.status_code == 400 and "Choose one of the support staff." in await text(wrong)
    ticket = await SupportTicket.get(id=ticket.id).prefetch_related("tags")
    assert ticket.assignee_id == bob.id and [t.name for t in ticket.tags] == ["vip"]
    actions = await AuditLog.filter(target_id=ticket.code).values_list("action", "after")
    assert ("support.assign", {"assignee_id": bob.id}) in actions
    assert ("support.tags", {"tags": ["vip"]}) in actions
    assert len(actions) == 3


async def test_canned_replies_are_kept_by_managers_and_inserted_into_a_reply(
    app, alice, bob_client, admin_client
):
    from managely.models.platform import AuditLog
    from managely.models.support import CannedReply
    from managely.services import accounts

    assert (await bob_client.get("/admin/support/canned")).status_code == 403
    empty = await admin_client.post("/admin/support/canned", {"title": "", "body_en": ""})
    assert empty.status_code == 400 and "Give the canned reply a title." in await text(empty)
    form = {"title": "Restart", "body_en": "Please restart.", "body_ar": "أعد التشغيل من فضلك."}
    assert (await admin_client.post("/admin/support/canned", form)).status_code == 302
    canned = await CannedReply.get(title="Restart")
    edited = {**form, "body_en": "Please restart it.", "department": "technical"}
    url = f"/admin/support/canned/{canned.id}"
    assert (await admin_client.post(url, edited)).status_code == 302
    await canned.refresh_from_db()
    assert canned.body_en == "Please restart it." and canned.department == "technical"

    await accounts.set_locale(alice, "ar")
    ticket, _ = await make_ticket(alice)
    page = await text(await admin_client.get(f"/admin/support/{ticket.code}?canned={canned.id}"))
    assert "أعد التشغيل من فضلك.</textarea>" in page
    assert (await admin_client.post(f"{url}/delete")).status_code == 302
    assert not await CannedReply.exists(id=canned.id)
    actions = await AuditLog.filter(action__startswith="support.canned").values_list(
        "action", flat=True
    )
    assert sorted(actions) == [
        "support.canned_create",
        "support.canned_delete",
        "support.canned_update",
    ]
