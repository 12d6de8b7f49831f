"""Catalog management for staff: packages, periods and prices, add-ons, special pricing, promo codes, referral settings."""

from __future__ import annotations

from quart import Blueprint

bp = Blueprint("admin_catalog", __name__, url_prefix="/admin/catalog")
