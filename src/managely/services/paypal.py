"""PayPal's REST API over HTTPS: Orders v2, captures and refunds, webhook verification.

One ``PayPal`` per piece of work (``async with PayPal(settings) as gateway``) holds one httpx
client; the OAuth2 client-credentials token is cached per process until shortly before it
expires, and fetched again once if PayPal answers 401. Amounts cross this module as integers in
minor units and leave it as PayPal's decimal strings with the currency's precision. Failures
become ``ServiceError``s a customer can read: ``GatewayUnavailable`` (nothing happened, try
again) or ``PaymentDeclined`` (PayPal refused the money).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import httpx
from babel import numbers

from managely.i18n import lazy_gettext as _l
from managely.i18n import minor_to_decimal
from managely.services.errors import NotFound, ServiceError
from managely.settings import PayPalSettings

log = logging.getLogger(__name__)

# The currencies PayPal settles (its "currency codes" reference); others cannot be paid here.
# fmt: off
CURRENCIES = frozenset((
    "AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "JPY", "MYR", "MXN",
    "TWD", "NZD", "NOK", "PHP", "PLN", "GBP", "SGD", "SEK", "CHF", "THB", "USD",
))
# fmt: on
# 422 issues that mean the payer's money was refused, not that our request was wrong.
DECLINE_ISSUES = frozenset(
    {
        "INSTRUMENT_DECLINED",
        "TRANSACTION_REFUSED",
        "PAYER_CANNOT_PAY",
        "PAYEE_BLOCKED_TRANSACTION",
        "COMPLIANCE_VIOLATION",
        "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED",
        "REDIRECT_PAYER_FOR_ALTERNATE_FUNDING",
        "CARD_EXPIRED",
    }
)
TRANSMISSION_HEADERS = {  # verify-webhook-signature field -> the header PayPal sends it in
    "auth_algo": "PAYPAL-AUTH-ALGO",
    "cert_url": "PAYPAL-CERT-URL",
    "transmission_id": "PAYPAL-TRANSMISSION-ID",
    "transmission_sig": "PAYPAL-TRANSMISSION-SIG",
    "transmission_time": "PAYPAL-TRANSMISSION-TIME",
}
TOKEN_MARGIN = 120  # seconds: a token this close to expiry is renewed before use
TIMEOUT = httpx.Timeout(20.0, connect=5.0)

_tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (base URL, client id) -> token, expiry


class GatewayUnavailable(ServiceError):
    status = 502
    code = "gateway_unavailable"

    def __init__(self) -> None:
        super().__init__(
            _l(
                "PayPal could not be reached. Nothing was charged; please try again in a few minutes."
            )
        )


class PaymentDeclined(ServiceError):
    status = 402
    code = "payment_declined"

    def __init__(self) -> None:
        super().__init__(
            _l("PayPal declined this payment. Nothing was charged; you can try another way to pay.")
        )


class PaymentNotApproved(ServiceError):
    status = 409
    code = "payment_not_approved"

    def __init__(self) -> None:
        super().__init__(
            _l(
                "This payment was not approved at PayPal, so nothing was charged. Please start again."
            )
        )


class GatewayRefused(Exception):
    """PayPal answered 4xx: the caller decides what that means (e.g. an order captured twice)."""

    def __init__(self, status: int, name: str, issues: tuple[str, ...], debug_id: str) -> None:
        super().__init__(f"PayPal {status} {name} {','.join(issues)} (debug id {debug_id})")
        self.status, self.name, self.issues, self.debug_id = status, name, issues, debug_id


@dataclass(frozen=True)
class Order:
    id: str
    status: str
    approve_url: str


@dataclass(frozen=True)
class Capture:
    id: str
    status: str  # COMPLETED, PENDING, DECLINED, FAILED, PARTIALLY_REFUNDED, REFUNDED
    amount_minor: int
    currency: str
    order_id: str = ""
    custom_id: str = ""

    @property
    def money_received(self) -> bool:
        """The money reached us (a refund later does not undo that it did)."""
        return self.status in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED")


@dataclass(frozen=True)
class Refund:
    id: str
    status: str  # COMPLETED, PENDING, FAILED, CANCELLED
    amount_minor: int
    currency: str
    capture_id: str


def to_value(amount_minor: int, currency: str) -> str:
    """PayPal's ``value``: major units with exactly the currency's decimals ("12.30", "500")."""
    return str(minor_to_decimal(amount_minor, currency))


def to_minor(value: str, currency: str) -> int:
    try:
        scaled = Decimal(value).scaleb(numbers.get_currency_precision(currency))
    except (InvalidOperation, TypeError):
        raise ValueError(f"not an amount: {value!r}") from None
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value!r} has more decimals than {currency} allows")
    return int(scaled)


def approval_origin(settings: PayPalSettings) -> str:
    """Where buyers approve payments: the origin a form posting to us is redirected to."""
    parts = urlsplit(settings.base_url)
    host = parts.hostname or ""
    if host.endswith("paypal.com"):
        return "https://www.sandbox.paypal.com" if "sandbox" in host else "https://www.paypal.com"
    return f"{parts.scheme}://{parts.netloc}"  # a test's PayPal on this machine


def _money(data: dict[str, Any]) -> tuple[int, str]:
    currency = str(data["currency_code"]).upper()
    return to_minor(str(data["value"]), currency), currency


def capture_from(resource: dict[str, Any]) -> Capture:
    """A capture from PayPal's JSON (a capture answer or a PAYMENT.CAPTURE.* resource)."""
    amount, currency = _money(resource["amount"])
    related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
    return Capture(
        id=str(resource["id"]),
        status=str(resource.get("status", "")),
        amount_minor=amount,
        currency=currency,
        order_id=str(related.get("order_id") or ""),
        custom_id=str(resource.get("custom_id") or ""),
    )


def refund_from(resource: dict[str, Any], capture_id: str = "") -> Refund:
    """A refund from PayPal's JSON; its capture is the ``up`` link when not given."""
    for link in resource.get("links") or ():
        if link.get("rel") == "up" and "/captures/" in link.get("href", ""):
            capture_id = capture_id or link["href"].rstrip("/").rsplit("/", 1)[1]
    amount, currency = _money(resource["amount"]) if resource.get("amount") else (0, "")
    return Refund(
        id=str(resource["id"]),
        status=str(resource.get("status", "")),
        amount_minor=amount,
        currency=currency,
        capture_id=capture_id,
    )


def _first_capture(order: dict[str, Any]) -> Capture:
    for unit in order.get("purchase_units") or ():
        captures = (unit.get("payments") or {}).get("captures") or ()
        if captures:
            capture = dict(captures[0])
            # An order's capture does not repeat the order id; the order is the one we hold.
            capture.setdefault("supplementary_data", {"related_ids": {"order_id": order["id"]}})
            return capture_from(capture)
    raise ValueError("the order has no capture")


class PayPal:
    """PayPal's REST API for one piece of work: ``async with PayPal(settings) as gateway``."""

    def __init__(self, settings: PayPalSettings) -> None:
        if not settings.enabled:
            raise ValueError("PayPal is not configured (MANAGELY_PAYPAL_CLIENT_ID)")
        self.settings = settings
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> PayPal:
        self._client = httpx.AsyncClient(base_url=self.settings.base_url, timeout=TIMEOUT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    # -- transport ----------------------------------------------------------------------------

    @property
    def _token_key(self) -> tuple[str, str]:
        return (self.settings.base_url, self.settings.client_id or "")

    async def _token(self) -> str:
        cached = _tokens.get(self._token_key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        try:
            response = await self._client.post(
                "/v1/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(self.settings.client_id or "", self.settings.client_secret or ""),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as error:
            log.warning("PayPal token request failed: %r", error)
            raise GatewayUnavailable() from error
        if response.status_code != 200:
            # Wrong credentials are an operator's problem; the customer only learns it is down.
            log.error("PayPal refused our credentials: %s %s", response.status_code, response.text)
            raise GatewayUnavailable()
        body = response.json()
        expires_in = int(body.get("expires_in", 0))
        _tokens[self._token_key] = (
            body["access_token"],
            time.monotonic() + max(expires_in - TOKEN_MARGIN, 0),
        )
        return body["access_token"]

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        content: bytes | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if request_id:  # PayPal answers a repeated request id with the first result
            headers["PayPal-Request-Id"] = request_id
        if body is not None:
            content = json.dumps(body).encode()
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {await self._token()}"
            try:
                response = await self._client.request(
                    method, path, content=content, headers=headers
                )
            except httpx.HTTPError as error:
                log.warning("PayPal %s %s failed: %r", method, path, error)
                raise GatewayUnavailable() from error
            if response.status_code == 401 and attempt == 1:
                _tokens.pop(self._token_key, None)  # revoked or expired early: one fresh token
                continue
            break
        return self._answer(method, path, response)

    @staticmethod
    def _answer(method: str, path: str, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = {}
        if response.status_code >= 500 or response.status_code == 429:
            log.warning("PayPal %s %s answered %s", method, path, response.status_code)
            raise GatewayUnavailable()
        if response.status_code >= 400:
            issues = tuple(str(d.get("issue", "")) for d in data.get("details") or ())
            refused = GatewayRefused(
                response.status_code,
                str(data.get("name", "")),
                issues,
                str(data.get("debug_id", "")),
            )
            log.info("PayPal %s %s refused: %s", method, path, refused)
            raise refused
        return data

    # -- the calls ----------------------------------------------------------------------------

    async def create_order(
        self,
        *,
        reference: str,
        amount_minor: int,
        currency: str,
        description: str,
        return_url: str,
        cancel_url: str,
    ) -> Order:
        """An order for the buyer to approve; ``reference`` (our payment code) makes it
        idempotent and comes back in the capture as ``custom_id``."""
        context = {
            "brand_name": "Managely",
            "shipping_preference": "NO_SHIPPING",
            "user_action": "PAY_NOW",
            "return_url": return_url,
            "cancel_url": cancel_url,
        }
        unit = {
            "reference_id": reference,
            "custom_id": reference,
            "invoice_id": reference,
            "description": description[:127],
            "amount": {"currency_code": currency, "value": to_value(amount_minor, currency)},
        }
        try:
            data = await self._call(
                "POST",
                "/v2/checkout/orders",
                body={
                    "intent": "CAPTURE",
                    "purchase_units": [unit],
                    "payment_source": {"paypal": {"experience_context": context}},
                },
                request_id=reference,
            )
        except GatewayRefused as refused:
            raise self._refusal(refused) from refused
        # "payer-action" with payment_source.experience_context; "approve" in older answers.
        links = {link.get("rel"): link.get("href") for link in data.get("links") or ()}
        approve_url = links.get("payer-action") or links.get("approve")
        if not data.get("id") or not approve_url:
            log.error("PayPal order without an approval link: %s", data)
            raise GatewayUnavailable()
        return Order(
            id=str(data["id"]), status=str(data.get("status", "")), approve_url=approve_url
        )

    async def capture_order(self, order_id: str, *, request_id: str) -> Capture:
        """Take the money the buyer approved; asking again answers the same capture."""
        path = f"/v2/checkout/orders/{_segment(order_id)}/capture"
        try:
            data = await self._call("POST", path, body={}, request_id=request_id)
        except GatewayRefused as refused:
            if "ORDER_ALREADY_CAPTURED" in refused.issues:
                return await self.order_capture(order_id)
            raise self._refusal(refused) from refused
        try:
            return _first_capture(data)
        except (KeyError, ValueError) as error:
            log.error("PayPal capture answer without a capture: %s", data)
            raise GatewayUnavailable() from error

    async def order_capture(self, order_id: str) -> Capture:
        """The capture of an order already captured (found through GET order)."""
        data = await self._get(f"/v2/checkout/orders/{_segment(order_id)}")
        try:
            return _first_capture(data)
        except (KeyError, ValueError) as error:
            raise GatewayUnavailable() from error

    async def get_capture(self, capture_id: str) -> Capture:
        data = await self._get(f"/v2/payments/captures/{_segment(capture_id)}")
        try:
            return capture_from(data)
        except (KeyError, ValueError) as error:
            raise GatewayUnavailable() from error

    async def refund_capture(
        self,
        capture_id: str,
        *,
        request_id: str,
        amount_minor: int | None = None,
        currency: str = "",
        note: str = "",
    ) -> Refund:
        """Send captured money back to the payer: all of it, or ``amount_minor``."""
        body: dict[str, Any] = {}
        if amount_minor is not None:
            body["amount"] = {"currency_code": currency, "value": to_value(amount_minor, currency)}
        if note:
            body["note_to_payer"] = note[:255]
        path = f"/v2/payments/captures/{_segment(capture_id)}/refund"
        try:
            data = await self._call("POST", path, body=body, request_id=request_id)
        except GatewayRefused as refused:
            raise self._refusal(refused) from refused
        if amount_minor is not None and not data.get("amount"):
            # The minimal answer carries no amount; it is the one we asked for.
            data["amount"] = body["amount"]
        return refund_from(data, capture_id)

    async def verify_webhook(self, headers: dict[str, str], raw_body: bytes) -> bool:
        """Ask PayPal whether this delivery is really theirs (verify-webhook-signature).

        The event is passed on byte for byte: PayPal checks the signature against the body as
        sent, and re-serialising it (key order, ``1.0`` becoming ``1``) would fail genuine events.
        """
        fields = {field: headers.get(header, "") for field, header in TRANSMISSION_HEADERS.items()}
        if not all(fields.values()):
            return False
        fields["webhook_id"] = self.settings.webhook_id or ""
        prefix = json.dumps(fields)[:-1].encode()
        content = prefix + b', "webhook_event": ' + raw_body + b"}"
        try:
            data = await self._call(
                "POST", "/v1/notifications/verify-webhook-signature", content=content
            )
        except GatewayRefused:
            return False  # malformed headers or event: not something PayPal signed
        return data.get("verification_status") == "SUCCESS"

    async def _get(self, path: str) -> dict[str, Any]:
        try:
            return await self._call("GET", path)
        except GatewayRefused as refused:
            raise GatewayUnavailable() from refused

    @staticmethod
    def _refusal(refused: GatewayRefused) -> ServiceError:
        if refused.status == 422 and DECLINE_ISSUES.intersection(refused.issues):
            return PaymentDeclined()
        if {"ORDER_NOT_APPROVED", "PAYER_ACTION_REQUIRED"}.intersection(refused.issues):
            return PaymentNotApproved()
        log.error("PayPal refused a request: %s", refused)
        return GatewayUnavailable()


def _segment(identifier: str) -> str:
    """PayPal ids are letters and digits; anything else must not steer the request path."""
    if not identifier or not identifier.replace("-", "").isalnum() or not identifier.isascii():
        raise NotFound(_l("We could not find that payment."))
    return identifier


def forget_tokens() -> None:
    """Drop cached access tokens (tests, or after rotating the credentials)."""
    _tokens.clear()
