"""Test helpers: a browser-like client that handles CSRF, and a real SMTP inbox."""

from __future__ import annotations

import email
import email.policy
import re
import secrets
import socket
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


class Browser:
    """Wraps Quart's test client: keeps cookies, sends the CSRF token like our forms do."""

    def __init__(self, client) -> None:
        self.client = client

    async def csrf(self) -> str:
        async with self.client.session_transaction() as session:
            if "csrf_token" not in session:
                session["csrf_token"] = secrets.token_urlsafe(32)
            return session["csrf_token"]

    async def get(self, path: str, **kwargs):
        return await self.client.get(path, **kwargs)

    async def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = await self.csrf()
        return await self.client.post(path, form=form, **kwargs)

    async def login(self, email_address: str, password: str) -> None:
        response = await self.post("/login", {"email": email_address, "password": password})
        assert response.status_code == 302, await response.get_data(as_text=True)


async def text(response) -> str:
    return await response.get_data(as_text=True)


def arabic(message: str, **variables: object) -> str:
    """The Arabic catalog's translation of ``message``; fails if it is still English."""
    from managely import i18n

    with i18n.use_locale("ar"):
        translated = i18n.gettext(message, **variables)
    assert translated != message % variables if variables else translated != message, (
        f"no Arabic translation for {message!r}"
    )
    return translated


@dataclass
class Inbox:
    """Messages received by the loopback SMTP server, parsed."""

    url: str = ""
    messages: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def last_code(self, address: str) -> str:
        bodies = [m.get_body(("plain",)).get_content() for m in self.to(address)]
        codes = re.findall(r"\b(\d{6})\b", bodies[-1]) if bodies else []
        assert codes, f"no code emailed to {address}"
        return codes[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fixed_port() -> int:
    """A free port below 32768 (services there are 'fixed ports', outside the ephemeral range)."""
    import random

    for port in random.sample(range(20000, 30000), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 30000")


def start_smtp() -> tuple[Inbox, Controller]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{port}"
    return inbox, controller
