"""Route-test entries for the staff catalog, billing oversight and reports screens."""

from __future__ import annotations

from managely.models.accounts import User
from managely.models.addons import AddonApp
from managely.models.billing import PaymentEvent
from managely.models.catalog import Package, PromoCode, PromoKind
from tests.web.routes import make_invoice


async def _package(owner: User) -> dict[str, str]:
    count = await Package.all().count()
    package = await Package.create(slug=f"route-pkg-{count}", name_en="Route", name_ar="مسار")
    return {"code": package.code}


async def _addon(owner: User) -> dict[str, str]:
    count = await AddonApp.all().count()
    addon = await AddonApp.create(
        slug=f"route-addon-{count}",
        name_en="CRM",
        name_ar="CRM",
        tryton_module="sale",
        currency="USD",
        price_minor=500,
    )
    return {"code": addon.code}


async def _promo(owner: User) -> dict[str, str]:
    count = await PromoCode.all().count()
    promo = await PromoCode.create(code=f"ROUTE{count}", kind=PromoKind.PERCENT, value=1000)
    return {"code": promo.code}


async def _invoice(owner: User) -> dict[str, str]:
    return {"code": (await make_invoice(owner)).code}


async def _customer(owner: User) -> dict[str, str]:
    return {"code": owner.code}


async def _event(owner: User) -> dict[str, str]:
    count = await PaymentEvent.all().count()
    event = await PaymentEvent.create(
        gateway="paypal",
        event_id=f"WH-ROUTE-{count}",
        event_type="CHECKOUT.ORDER.APPROVED",
        payload={"id": f"WH-ROUTE-{count}", "event_type": "CHECKOUT.ORDER.APPROVED"},
        verified=True,
    )
    return {"event_id": event.event_id}


OWNED_OBJECTS = {
    "admin_catalog.package": _package,
    "admin_catalog.package_state": _package,
    "admin_catalog.package_price": _package,
    "admin_catalog.addon": _addon,
    "admin_catalog.promo": _promo,
    "admin_billing.invoice": _invoice,
    "admin_billing.refund": _invoice,
    "admin_billing.ledger": _customer,
    "admin_billing.event": _event,
    "admin_billing.replay": _event,
}

VALID_FORMS = {
    "admin_catalog.package_state": {"active": "1", "public": "1"},
    "admin_catalog.package_price": {"period": "monthly", "currency": "USD", "price": "29"},
    "admin_billing.refund": {"amount": "1", "destination": "wallet", "reason": "x", "key": "k1"},
}
