"""A fake PayPal REST API on loopback, answering with PayPal's documented payloads.

It serves the OAuth2 token endpoint, Orders v2 (create, show, capture), Payments v2 (show a
capture, refund it) and ``/v1/notifications/verify-webhook-signature``, plus ``/checkoutnow``:
the buyer's approval page, which approves the order at once and sends the browser back to the
order's ``return_url`` with ``token`` and ``PayerID``, as PayPal does. ``PayPal-Request-Id``
replays answer the first result, like PayPal's idempotency.

Webhooks: PayPal signs ``<transmission id>|<time>|<webhook id>|<CRC32 of the raw event>`` with
its certificate; the fake signs the same string with an HMAC key and answers SUCCESS only when
the ``PAYPAL-TRANSMISSION-SIG`` header a test sends matches the event bytes the app passed on.
So a forged header, a tampered event and an event re-serialised by the app all fail, as they
would at PayPal. Tests make PayPal misbehave with ``decline_captures``, ``pending_captures``,
``fail_with`` (an HTTP status for every API call) and ``revoke_tokens()``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import threading
import zlib
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support import _free_port

CLIENT_ID = "fake-paypal-client"
CLIENT_SECRET = "fake-paypal-secret"
WEBHOOK_ID = "1JE4291016473214C"
_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXY0123456789"


def paypal_id(n: int = 17) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minor(money: dict[str, str]) -> int:
    return int(money["value"].replace(".", ""))


def _value(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class FakePayPal:
    def __init__(self) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.signing_key = secrets.token_bytes(32)
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.tokens: set[str] = set()
            self.token_requests = 0
            self.orders: dict[str, dict[str, Any]] = {}
            self.captures: dict[str, dict[str, Any]] = {}
            self.refunds: dict[str, dict[str, Any]] = {}
            self.replays: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
            self.calls: list[tuple[str, str]] = []
            self.verifications: list[str] = []  # SUCCESS or FAILURE, in order
            self.decline_captures = False
            self.pending_captures = False
            self.fail_with: int | None = None

    # -- HTTP ---------------------------------------------------------------------------------

    def start(self) -> FakePayPal:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's hook name)
                fake._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Paypal-Debug-Id", paypal_id(13).lower())
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _error(status: int, name: str, issue: str = "") -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"name": name, "message": name, "debug_id": paypal_id(13).lower()}
        if issue:
            body["details"] = [{"issue": issue, "description": issue}]
        return status, body

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self.lock:
            self.calls.append((method, url.path))
            if method == "GET" and url.path == "/checkoutnow":
                return self._approve_page(handler, parse_qs(url.query).get("token", [""])[0])
            if url.path == "/v1/oauth2/token" and method == "POST":
                status, body = self._token(handler, raw)
            elif self.fail_with is not None:
                status, body = self._error(self.fail_with, "INTERNAL_SERVER_ERROR")
            elif (
                handler.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens
            ):
                status, body = (
                    401,
                    {
                        "error": "invalid_token",
                        "error_description": "Token signature verification failed",
                    },
                )
            else:
                status, body = self._api(handler, method, url.path, raw)
        self._send(handler, status, body)
        return None

    def _token(self, handler: BaseHTTPRequestHandler, raw: bytes) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = parse_qs(raw.decode())
        if handler.headers.get("Authorization") != f"Basic {expected}":
            return 401, {
                "error": "invalid_client",
                "error_description": "Client Authentication failed",
            }
        if form.get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}
        token = "A21AA" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        return 200, {
            "scope": "https://uri.paypal.com/services/payments/payment",
            "access_token": token,
            "token_type": "Bearer",
            "app_id": "APP-80W284485P519543T",
            "expires_in": 32400,
            "nonce": f"{_now()}{paypal_id(8)}",
        }

    def _api(
        self, handler: BaseHTTPRequestHandler, method: str, path: str, raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return self._error(400, "INVALID_REQUEST", "MALFORMED_REQUEST_JSON")
        request_id = handler.headers.get("PayPal-Request-Id", "")
        replay_key = (path, request_id)
        if request_id and replay_key in self.replays:
            return self.replays[replay_key]
        parts = path.strip("/").split("/")
        answer = self._route(method, parts, body, raw)
        if request_id and answer[0] < 300:
            self.replays[replay_key] = answer
        return answer

    def _route(
        self, method: str, parts: list[str], body: dict[str, Any], raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        if method == "POST" and parts == ["v2", "checkout", "orders"]:
            return self._create_order(body)
        if parts[:3] == ["v2", "checkout", "orders"] and len(parts) == 4 and method == "GET":
            order = self.orders.get(parts[3])
            return (200, self._order_view(order)) if order else self._not_found()
        if parts[:3] == ["v2", "checkout", "orders"] and parts[4:] == ["capture"]:
            return self._capture(parts[3])
        if parts[:3] == ["v2", "payments", "captures"] and len(parts) == 4 and method == "GET":
            capture = self.captures.get(parts[3])
            return (200, copy.deepcopy(capture)) if capture else self._not_found()
        if parts[:3] == ["v2", "payments", "captures"] and parts[4:] == ["refund"]:
            return self._refund(parts[3], body)
        if parts == ["v1", "notifications", "verify-webhook-signature"]:
            return self._verify(body, raw)
        return self._not_found()

    def _not_found(self) -> tuple[int, dict[str, Any]]:
        return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")

    # -- orders -------------------------------------------------------------------------------

    def _create_order(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        units = body.get("purchase_units") or []
        if body.get("intent") != "CAPTURE" or len(units) != 1:
            return self._error(400, "INVALID_REQUEST", "MISSING_REQUIRED_PARAMETER")
        value = str(units[0].get("amount", {}).get("value", ""))
        whole, _, cents = value.partition(".")
        if not (whole.isdigit() and len(cents) == 2 and cents.isdigit()):
            return self._error(422, "UNPROCESSABLE_ENTITY", "DECIMAL_PRECISION")
        context = (body.get("payment_source") or {}).get("paypal", {}).get("experience_context")
        order_id = paypal_id()
        self.orders[order_id] = {
            "id": order_id,
            "intent": "CAPTURE",
            "status": "PAYER_ACTION_REQUIRED" if context else "CREATED",
            "unit": copy.deepcopy(units[0]),
            "context": context or body.get("application_context") or {},
            "capture_id": None,
            "create_time": _now(),
        }
        return 200, self._order_view(self.orders[order_id])

    def _order_view(self, order: dict[str, Any]) -> dict[str, Any]:
        links = [
            {
                "href": f"{self.base_url}/v2/checkout/orders/{order['id']}",
                "rel": "self",
                "method": "GET",
            }
        ]
        approve = f"{self.base_url}/checkoutnow?token={order['id']}"
        if order["status"] == "PAYER_ACTION_REQUIRED":
            links.append({"href": approve, "rel": "payer-action", "method": "GET"})
        elif order["status"] == "CREATED":
            links.append({"href": approve, "rel": "approve", "method": "GET"})
        unit = {
            "reference_id": order["unit"].get("reference_id", "default"),
            "amount": order["unit"]["amount"],
            "custom_id": order["unit"].get("custom_id"),
            "invoice_id": order["unit"].get("invoice_id"),
        }
        if order["capture_id"]:
            capture = copy.deepcopy(self.captures[order["capture_id"]])
            capture.pop("supplementary_data", None)  # inside an order it goes without saying
            unit["payments"] = {"captures": [capture]}
        view = {
            "id": order["id"],
            "intent": "CAPTURE",
            "status": order["status"],
            "payment_source": {"paypal": {}},
            "purchase_units": [unit],
            "create_time": order["create_time"],
            "links": links,
        }
        if order["status"] == "PAYER_ACTION_REQUIRED":
            del view["purchase_units"]  # the minimal answer PayPal gives before approval
        return view

    def _approve_page(self, handler: BaseHTTPRequestHandler, order_id: str) -> None:
        order = self.orders.get(order_id)
        if order is None:
            self._send(handler, 404, {"name": "RESOURCE_NOT_FOUND"})
            return
        if order["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"):
            order["status"] = "APPROVED"
        back = order["context"]["return_url"]
        joiner = "&" if "?" in back else "?"
        handler.send_response(302)
        handler.send_header("Location", f"{back}{joiner}token={order_id}&PayerID=QYR5Z8XDVJNXQ")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _capture(self, order_id: str) -> tuple[int, dict[str, Any]]:
        order = self.orders.get(order_id)
        if order is None:
            return self._not_found()
        if order["status"] == "COMPLETED":
            return self._error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return self._error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
        if self.decline_captures:
            return self._error(422, "UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED")
        capture_id = paypal_id()
        status = "PENDING" if self.pending_captures else "COMPLETED"
        capture = {
            "id": capture_id,
            "status": status,
            "amount": copy.deepcopy(order["unit"]["amount"]),
            "final_capture": True,
            "seller_protection": {
                "status": "ELIGIBLE",
                "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
            },
            "custom_id": order["unit"].get("custom_id"),
            "invoice_id": order["unit"].get("invoice_id"),
            "supplementary_data": {"related_ids": {"order_id": order_id}},
            "links": [
                {
                    "href": f"{self.base_url}/v2/payments/captures/{capture_id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"{self.base_url}/v2/payments/captures/{capture_id}/refund",
                    "rel": "refund",
                    "method": "POST",
                },
                {
                    "href": f"{self.base_url}/v2/checkout/orders/{order_id}",
                    "rel": "up",
                    "method": "GET",
                },
            ],
            "create_time": _now(),
            "update_time": _now(),
        }
        if status == "PENDING":
            capture["status_details"] = {"reason": "PENDING_REVIEW"}
        self.captures[capture_id] = capture
        order["capture_id"] = capture_id
        order["status"] = "COMPLETED"
        view = self._order_view(order)
        view["payer"] = {
            "name": {"given_name": "John", "surname": "Doe"},
            "email_address": "buyer@example.com",
            "payer_id": "QYR5Z8XDVJNXQ",
        }
        return 201, view

    def _refund(self, capture_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        capture = self.captures.get(capture_id)
        if capture is None:
            return self._not_found()
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            return self._error(422, "UNPROCESSABLE_ENTITY", "CAPTURE_FULLY_REFUNDED")
        total = _minor(capture["amount"])
        taken = sum(
            _minor(r["amount"]) for r in self.refunds.values() if r["capture_id"] == capture_id
        )
        amount = _minor(body["amount"]) if body.get("amount") else total - taken
        if amount <= 0 or taken + amount > total:
            return self._error(422, "UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED")
        refund_id = paypal_id()
        self.refunds[refund_id] = {
            "id": refund_id,
            "capture_id": capture_id,
            "amount": {
                "currency_code": capture["amount"]["currency_code"],
                "value": _value(amount),
            },
            "note_to_payer": body.get("note_to_payer"),
        }
        capture["status"] = "REFUNDED" if taken + amount == total else "PARTIALLY_REFUNDED"
        return 201, {"id": refund_id, "status": "COMPLETED", "links": self._refund_links(refund_id)}

    def _refund_links(self, refund_id: str) -> list[dict[str, str]]:
        capture_id = self.refunds[refund_id]["capture_id"]
        return [
            {
                "href": f"{self.base_url}/v2/payments/refunds/{refund_id}",
                "rel": "self",
                "method": "GET",
            },
            {
                "href": f"{self.base_url}/v2/payments/captures/{capture_id}",
                "rel": "up",
                "method": "GET",
            },
        ]

    # -- webhooks -----------------------------------------------------------------------------

    def _signature(self, transmission_id: str, time: str, webhook_id: str, event: bytes) -> str:
        message = f"{transmission_id}|{time}|{webhook_id}|{zlib.crc32(event)}".encode()
        return base64.b64encode(
            hmac.new(self.signing_key, message, hashlib.sha256).digest()
        ).decode()

    def _verify(self, body: dict[str, Any], raw: bytes) -> tuple[int, dict[str, Any]]:
        required = (
            "auth_algo",
            "cert_url",
            "transmission_id",
            "transmission_sig",
            "transmission_time",
            "webhook_id",
            "webhook_event",
        )
        if not all(body.get(field) for field in required):
            return self._error(400, "VALIDATION_ERROR", "MISSING_REQUIRED_PARAMETER")
        # The bytes of the event exactly as the app sent them, as PayPal's CRC sees them.
        text = raw.decode()
        start = text.index('"webhook_event"') + len('"webhook_event"')
        start = text.index(":", start) + 1
        while text[start] in " \t\r\n":
            start += 1
        _, end = json.JSONDecoder().raw_decode(text, start)
        event_bytes = text[start:end].encode()
        expected = self._signature(
            body["transmission_id"], body["transmission_time"], body["webhook_id"], event_bytes
        )
        ok = body["webhook_id"] == WEBHOOK_ID and hmac.compare_digest(
            expected, body["transmission_sig"]
        )
        status = "SUCCESS" if ok else "FAILURE"
        self.verifications.append(status)
        return 200, {"verification_status": status}

    def deliver(
        self, event: dict[str, Any], *, forged: bool = False
    ) -> tuple[bytes, dict[str, str]]:
        """What PayPal would POST: the raw event (compact, PayPal's key order) and its headers."""
        raw = json.dumps(event, separators=(",", ":")).encode()
        transmission_id = secrets.token_hex(16)
        time = _now()
        signature = self._signature(transmission_id, time, WEBHOOK_ID, raw)
        if forged:
            signature = base64.b64encode(secrets.token_bytes(32)).decode()
        return raw, {
            "Content-Type": "application/json",
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "PAYPAL-CERT-URL": f"{self.base_url}/v1/notifications/certs/CERT-360caa42-fca2a594-ad47cb8d",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-SIG": signature,
            "PAYPAL-TRANSMISSION-TIME": time,
        }

    def _event(
        self, event_type: str, resource_type: str, resource: dict[str, Any], summary: str
    ) -> dict[str, Any]:
        event_id = f"WH-{paypal_id()}-{paypal_id()}"
        return {
            "id": event_id,
            "event_version": "1.0",
            "create_time": _now(),
            "resource_type": resource_type,
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": summary,
            "resource": resource,
            "links": [
                {
                    "href": f"{self.base_url}/v1/notifications/webhooks-events/{event_id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"{self.base_url}/v1/notifications/webhooks-events/{event_id}/resend",
                    "rel": "resend",
                    "method": "POST",
                },
            ],
        }

    def capture_event(
        self, capture_id: str, event_type: str = "PAYMENT.CAPTURE.COMPLETED"
    ) -> dict[str, Any]:
        with self.lock:
            resource = copy.deepcopy(self.captures[capture_id])
        if event_type == "PAYMENT.CAPTURE.COMPLETED":
            resource["status"] = "COMPLETED"
        elif event_type == "PAYMENT.CAPTURE.DENIED":
            resource["status"] = "DECLINED"
        amount = resource["amount"]
        summary = f"Payment completed for $ {amount['value']} {amount['currency_code']}"
        return self._event(event_type, "capture", resource, summary)

    def refund_event(self, refund_id: str) -> dict[str, Any]:
        with self.lock:
            refund = self.refunds[refund_id]
            resource = {
                "id": refund_id,
                "amount": copy.deepcopy(refund["amount"]),
                "seller_payable_breakdown": {
                    "gross_amount": copy.deepcopy(refund["amount"]),
                    "net_amount": copy.deepcopy(refund["amount"]),
                },
                "status": "COMPLETED",
                "create_time": _now(),
                "update_time": _now(),
                "links": self._refund_links(refund_id),
            }
        summary = f"A $ {refund['amount']['value']} USD capture payment was refunded"
        return self._event("PAYMENT.CAPTURE.REFUNDED", "refund", resource, summary)

    # -- what happens at PayPal without the app asking ----------------------------------------

    def approve(self, order_id: str) -> None:
        with self.lock:
            self.orders[order_id]["status"] = "APPROVED"

    def capture_now(self, order_id: str) -> str:
        """Capture an approved order as if the app's own capture call got lost on the way back."""
        with self.lock:
            self.orders[order_id]["status"] = "APPROVED"
            status, body = self._capture(order_id)
        assert status == 201, body
        return body["purchase_units"][0]["payments"]["captures"][0]["id"]

    def refund_now(self, capture_id: str, amount_minor: int | None = None) -> str:
        """A refund the merchant makes in PayPal's dashboard."""
        body = (
            {"amount": {"currency_code": "USD", "value": _value(amount_minor)}}
            if amount_minor
            else {}
        )
        with self.lock:
            status, answer = self._refund(capture_id, body)
        assert status == 201, answer
        return answer["id"]

    def order_by_reference(self, reference: str) -> dict[str, Any]:
        with self.lock:
            return next(
                o for o in self.orders.values() if o["unit"].get("reference_id") == reference
            )
