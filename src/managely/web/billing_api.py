"""The billing JSON API for staff and automation: run the renewals now.

Authenticated by a staff session holding ``billing.adjust`` (renewals move money), with the
CSRF token as the ``X-CSRF-Token`` header like any other unsafe request. The run is the same
as the clock's hourly ``billing.renew``, so calling it while the clock runs charges nothing
twice.
"""

from __future__ import annotations

from quart import Blueprint, g, jsonify

from managely.services import renewals
from managely.web.auth import permission_required

bp = Blueprint("billing_api", __name__, url_prefix="/api")


@bp.post("/auto_renew_subscriptions")
@permission_required("billing.adjust")
async def auto_renew_subscriptions():
    """Renew every subscription due now; answers the run's counts."""
    counts = await renewals.run_renewals(actor=g.user)
    return jsonify({"counts": counts})
