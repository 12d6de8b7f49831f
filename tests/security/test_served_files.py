"""Files people upload or download are served so that no browser runs them as a page.

tests/web/test_support.py refuses disguised content; here every allowed kind, hostile file
names, page-like extensions, and the other downloads (backups, invoice PDFs).
"""

from __future__ import annotations

import io
from email.message import Message

from werkzeug.datastructures import FileStorage

from managely.models.support import TicketAttachment
from tests.support import text
from tests.web.routes import OWNED_OBJECTS, make_launch

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
ALLOWED = {
    "shot.png": (PNG, "image/png"),
    "photo.jpg": (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "image/jpeg"),
    "scan.pdf": (b"%PDF-1.7\n%%EOF\n", "application/pdf"),
    "notes.txt": (b"it breaks\n", "text/plain; charset=utf-8"),
    "trace.log": (b"line 1\n", "text/plain; charset=utf-8"),
    "rows.csv": (b"a,b\n1,2\n", "text/csv; charset=utf-8"),
    # Hostile names keep an allowed extension: stored, and served with a harmless name.
    "<img src=x onerror=alert(1)>.txt": (b"name\n", "text/plain; charset=utf-8"),
    "../../etc/passwd.txt": (b"root\n", "text/plain; charset=utf-8"),
    "report; filename=evil.html; x=.txt": (b"header\n", "text/plain; charset=utf-8"),
}
PAGE_LIKE = ["page.html", "page.htm", "page.xhtml", "logo.svg", "app.js", "feed.xml", "x.shtml"]
NEVER_SERVED_AS = ("text/html", "image/svg", "xml", "javascript")


def ticket_form() -> dict[str, str]:
    return {
        "subject": "Files",
        "department": "technical",
        "priority": "normal",
        "launch": "",
        "message": "Attached.",
    }


def assert_download(response, where: str) -> None:
    assert response.status_code == 200, where
    assert response.headers["X-Content-Type-Options"] == "nosniff", where
    kind = response.headers["Content-Type"].lower()
    assert not any(bad in kind for bad in NEVER_SERVED_AS), f"{where}: {kind}"


async def test_every_allowed_kind_downloads_as_an_attachment_never_as_a_page(
    app, alice, alice_client
):
    for name, (content, served_as) in ALLOWED.items():
        upload = FileStorage(io.BytesIO(content), filename=name, content_type="text/html")
        response = await alice_client.post(
            "/support_ticket", ticket_form(), files={"attachments": upload}
        )
        assert response.status_code == 302, f"{name}: {await text(response)}"
        ticket_url = response.headers["Location"]
        found = await TicketAttachment.filter(reply__ticket__user=alice).order_by("-id").first()
        download = await alice_client.get(f"{ticket_url}/attachments/{found.code}")
        assert_download(download, name)
        assert download.headers["Content-Type"] == served_as, name
        disposition = download.headers["Content-Disposition"]
        assert "\r" not in disposition and "\n" not in disposition, disposition
        header = Message()
        header["Content-Disposition"] = disposition
        assert header.get_content_disposition() == "attachment", disposition
        served_name = header.get_filename()
        # One name, the last path part, with the extension the type was checked for.
        assert "/" not in served_name and served_name.endswith(name.rsplit(".", 1)[1])
        assert "sandbox" in download.headers["Content-Security-Policy"], name
        assert await download.get_data() == content, name


async def test_page_like_files_are_refused_whatever_they_contain(app, alice, alice_client):
    for name in PAGE_LIKE:
        upload = FileStorage(io.BytesIO(b"hello\n"), filename=name, content_type="text/plain")
        response = await alice_client.post(
            "/support_ticket", ticket_form(), files={"attachments": upload}
        )
        assert response.status_code == 400, name
    assert await TicketAttachment.all().count() == 0


async def test_backups_and_invoices_download_with_safe_types(app, alice, alice_client):
    backup = await OWNED_OBJECTS["systems.download_backup"](alice)
    response = await alice_client.get(
        f"/panel/systems/{backup['code']}/backups/{backup['backup']}/download"
    )
    assert_download(response, "backup")
    assert response.headers["Content-Disposition"].startswith("attachment"), "backup"
    invoice = await OWNED_OBJECTS["invoices.pdf"](alice)
    response = await alice_client.get(f"/panel/invoices/{invoice['code']}.pdf")
    assert_download(response, "invoice")
    assert response.headers["Content-Type"] == "application/pdf"
    await make_launch(alice)  # a second system must not change what the first serves
