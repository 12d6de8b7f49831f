"""Servers for staff: inventory, capacity and health, bootstrap, drain, firewall rules."""

from __future__ import annotations

from quart import Blueprint

bp = Blueprint("admin_servers", __name__, url_prefix="/admin/servers")
