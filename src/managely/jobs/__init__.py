"""The worker engine: ``dramatiq managely.jobs`` imports this package to find every actor."""

from managely import queue  # noqa: F401  (the broker exists before any actor declares)
from managely.jobs import (  # noqa: F401
    accounts,
    alerts,
    backups,
    billing,
    clock,
    email,
    health,
    invoices,
    launches,
    logs,
    operations,
    platform,
    referrals,
    synthetic,
    usage,
)
