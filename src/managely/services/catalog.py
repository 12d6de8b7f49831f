"""The catalog: packages and their prices (the pricing engine arrives with the portal)."""

from __future__ import annotations

from managely.models.catalog import Package


async def active_packages() -> list[Package]:
    return await Package.filter(is_active=True, is_public=True).order_by("sort_order")
