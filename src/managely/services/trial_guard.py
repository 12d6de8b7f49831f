"""Trial abuse controls: who may start a free trial, and the staff-managed GeoIP rules.

A trial needs a verified email, and is given once per account, per mailbox (gmail dots and
+tags do not make a new one), per device and a few times per network in a time window; staff
may also open or close trials by country. ``check_trial_allowed`` refuses early with nothing
written; ``record_trial`` runs inside the transaction that creates the trial, checks again under
a lock and writes the ``TrialStart`` whose unique columns make a lost race impossible.

Countries come from a MaxMind-format database (``MANAGELY_GEOIP_DB``). Without one the country
rules are off, which is said once in the log.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import maxminddb
from babel import Locale
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from managely import db
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import DeviceFingerprint, TrialStart, User
from managely.models.catalog import Package
from managely.models.launches import Launch
from managely.models.platform import GeoIpRule, GeoRuleKind
from managely.models.subscriptions import Subscription, SubscriptionStatus
from managely.services import platform
from managely.services.errors import Conflict, Forbidden, NotFound, ValidationError
from managely.settings import get_settings

log = logging.getLogger(__name__)

DEVICE_COOKIE = "managely_device"
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
# Every browser sends these on every request, so each attempt from one device carries the same
# values. High-entropy client hints (platform version, model, full version list) are left out:
# a browser sends them only once the site asked for them, so they come and go between requests.
TRAIT_HEADERS = (
    "user-agent",
    "accept-language",
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
)
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
APPLIES_TO = ("trial", "signup", "all")
NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "ZZ"})  # groupings Babel lists as territories
# PostgreSQL advisory lock held by a transaction recording a trial (released at its end).
TRIAL_LOCK_KEY = int.from_bytes(hashlib.sha256(b"managely.trial_guard").digest()[:8], signed=True)

UNVERIFIED = _l("Please verify your email address before starting a free trial.")
EMAIL_USED = _l(
    "This email address has already had a free trial. You can choose a paid plan instead."
)
DEVICE_USED = _l(
    "A free trial has already been started from this device. You can choose a paid plan instead."
)
NETWORK_BUSY = _l(
    "Too many free trials have been started from your network recently. Please try again later."
)
COUNTRY_CLOSED = _l("Free trials are not available in your country.")
ALREADY_USED = _l("A free trial has already been used by this account, email address or device.")


class TrialRefused(Forbidden):
    """A trial the rules do not allow; ``reason`` says which rule, for logs and tests."""

    code = "trial_refused"

    def __init__(self, message: object, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- who is asking ------------------------------------------------------------------------


def new_device_id() -> str:
    """A value for the long-lived ``managely_device`` cookie the web layer sets on a browser."""
    return secrets.token_urlsafe(24)


def fingerprint(
    headers: Mapping[str, str], remote_ip: str = "", *, device_id: str | None = None
) -> str:
    """sha256 hex naming the device a request comes from.

    With a device id (the ``managely_device`` cookie in ``headers``, or ``device_id`` from a
    form field) the hash is of that id alone: it is the one trait both stable and specific to
    one browser, and mixing in headers would let a language setting or a browser update mint a
    new "device". Without one it is the hash of ``TRAIT_HEADERS``, which many browsers share, so
    the web layer must give every browser the cookie before it can ask for a trial.
    ``remote_ip`` is not hashed: addresses change on every network a laptop joins.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    device = device_id or _cookie(lowered.get("cookie", ""), DEVICE_COOKIE)
    if device and DEVICE_ID_RE.fullmatch(device):
        source = f"v1|device|{device}"
    else:
        traits = "\n".join(" ".join(lowered.get(name, "").split()) for name in TRAIT_HEADERS)
        source = f"v1|traits|{traits}"
    return hashlib.sha256(source.encode()).hexdigest()


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip('"')
    return None


@dataclass(frozen=True)
class RequestTraits:
    """What the web layer knows about the request asking for a trial."""

    ip: str
    fingerprint: str
    email: str = ""  # an address the request names (signup form, sign-in provider), if any
    user: User | None = None  # who is signed in, if anyone

    @classmethod
    def from_request(
        cls,
        headers: Mapping[str, str],
        remote_ip: str | None,
        *,
        user: User | None = None,
        email: str = "",
        device_id: str | None = None,
    ) -> RequestTraits:
        return cls(
            ip=remote_ip or "",
            fingerprint=fingerprint(headers, remote_ip or "", device_id=device_id),
            email=email or (user.email if user else ""),
            user=user,
        )


def canonical_mailbox(email: str) -> str:
    """The mailbox an address delivers to: lower case, no +tag, and no dots for gmail."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def _email_hash(email: str) -> str:
    return hashlib.sha256(canonical_mailbox(email).encode()).hexdigest()


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def network_key(ip: str) -> str:
    """The network a trial is counted against: the IPv4 address, or the IPv6 /64 (one home or
    phone gets a whole /64, so hopping inside it must not reset the count)."""
    address = _address(ip)
    if address is None:
        return ""
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# --- the checks ---------------------------------------------------------------------------


async def check_trial_allowed(
    user: User, traits: RequestTraits, package: Package | None = None
) -> None:
    """Refuse (``TrialRefused``, a ``Forbidden``) a trial the rules do not allow.

    Rules are per account whatever the ``package``; it is accepted so callers need not change
    if a package ever gets rules of its own. Reads only: a refusal writes nothing.
    """
    if user.email_verified_at is None:
        _refuse(UNVERIFIED, "email_unverified", user, traits)
    emails = {_email_hash(user.email)} | ({_email_hash(traits.email)} if traits.email else set())
    if (
        await TrialStart.filter(Q(user_id=user.id) | Q(email_hash__in=emails)).exists()
        or await Subscription.filter(
            Q(status=SubscriptionStatus.TRIAL) | Q(trial_ends_at__isnull=False), user_id=user.id
        ).exists()
        or await Launch.filter(user_id=user.id, is_trial=True).exists()
    ):
        _refuse(EMAIL_USED, "email_used", user, traits)
    if traits.fingerprint and await TrialStart.filter(fingerprint=traits.fingerprint).exists():
        _refuse(DEVICE_USED, "device_used", user, traits)
    network = network_key(traits.ip)
    if network:
        settings = get_settings()
        since = datetime.now(UTC) - timedelta(hours=settings.trial_ip_window_hours)
        if await TrialStart.filter(ip=network, created_at__gte=since).count() >= (
            settings.trials_per_ip
        ):
            _refuse(NETWORK_BUSY, "network_busy", user, traits)
    if not await _country_allowed(traits.ip):
        _refuse(COUNTRY_CLOSED, "country", user, traits)


def _refuse(message: object, reason: str, user: User, traits: RequestTraits) -> None:
    log.info("trial refused: %s (user %s, ip %s)", reason, user.id, traits.ip or "-")
    raise TrialRefused(message, reason)


async def record_trial(user: User, traits: RequestTraits) -> TrialStart:
    """Record the trial ``user`` is starting; call it inside the ``db.atomic()`` that creates
    the trial, before that transaction's other writes (its own trial subscription would
    otherwise count as an earlier one).

    Two requests racing past ``check_trial_allowed`` cannot both get a trial: the checks run
    again under a lock every trial transaction takes (PostgreSQL: an advisory lock held until
    commit, and READ COMMITTED reads see what the winner committed; SQLite: transactions are
    serialised already). The unique account, mailbox and device columns of ``TrialStart`` hold
    even for a writer that skipped the lock.
    """
    connection = get_connection("default")
    if not isinstance(connection, TransactionalDBClient):
        raise RuntimeError("record_trial() must run inside the db.atomic() creating the trial")
    if db.current_dialect() == "postgres":
        await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [TRIAL_LOCK_KEY])
    await check_trial_allowed(user, traits)
    try:
        async with db.atomic():  # a savepoint: a duplicate leaves the outer transaction usable
            start = await TrialStart.create(
                user=user,
                email_hash=_email_hash(user.email),
                fingerprint=traits.fingerprint or None,
                ip=network_key(traits.ip),
            )
    except IntegrityError:
        raise TrialRefused(ALREADY_USED, "duplicate") from None
    await _remember_device(user, traits)
    return start


async def _remember_device(user: User, traits: RequestTraits) -> None:
    if not traits.fingerprint:
        return
    ip = traits.ip[:45]
    seen = await DeviceFingerprint.filter(user=user, fingerprint=traits.fingerprint).update(
        ip=ip, last_seen_at=datetime.now(UTC)
    )
    if seen:
        return
    try:
        async with db.atomic():
            await DeviceFingerprint.create(user=user, fingerprint=traits.fingerprint, ip=ip)
    except IntegrityError:
        pass  # another request of this user recorded the device first: same row, same facts


# --- countries ----------------------------------------------------------------------------

_readers: dict[Path, tuple[tuple[int, int, int], maxminddb.Reader]] = {}
_said: set[str] = set()


def _say_once(message: str, *args: object) -> None:
    key = message % args
    if key not in _said:
        _said.add(key)
        log.warning(message, *args)


def _geoip_reader() -> maxminddb.Reader | None:
    """The database reader, reopened when the file is replaced (weekly updates)."""
    path = get_settings().geoip_db
    if path is None:
        _say_once("GeoIP country rules are off: MANAGELY_GEOIP_DB is not set")
        return None
    try:
        stat = path.stat()
    except OSError:
        _say_once("GeoIP country rules are off: %s does not exist", path)
        return None
    # Updates are written aside and renamed over the old file: a new inode, size or time.
    version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    cached = _readers.get(path)
    if cached is not None and cached[0] == version:
        return cached[1]
    try:
        reader = maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        _say_once("GeoIP country rules are off: cannot read %s (%s)", path, exc)
        return None
    if cached is not None:
        cached[1].close()
    _readers[path] = (version, reader)
    return reader


def country_of(ip: str) -> str | None:
    """ISO code of the country ``ip`` is in; None when unknown (private, not in the database,
    or no database)."""
    reader = _geoip_reader()
    return None if reader is None else _lookup(reader, ip)


def _lookup(reader: maxminddb.Reader, ip: str) -> str | None:
    address = _address(ip)
    if address is None:
        return None
    try:
        record = reader.get(str(address))
    except (ValueError, maxminddb.InvalidDatabaseError):  # e.g. IPv6 in an IPv4-only database
        return None
    if not isinstance(record, dict):
        return None
    place = record.get("country") or record.get("registered_country") or {}
    code = place.get("iso_code") if isinstance(place, dict) else None
    return code.upper() if isinstance(code, str) else None


async def _country_allowed(ip: str) -> bool:
    rules = await GeoIpRule.filter(applies_to__in=("trial", "all")).values_list("country", "kind")
    reader = _geoip_reader() if rules else None
    if reader is None:
        return True
    country = _lookup(reader, ip)
    allowed = {c for c, kind in rules if kind == GeoRuleKind.ALLOW}
    denied = {c for c, kind in rules if kind == GeoRuleKind.DENY}
    if country in denied:
        return False
    # With an allow-list, only its countries: an address we cannot place is not one of them.
    return not allowed or country in allowed


# --- staff management of the rules --------------------------------------------------------


@cache
def _countries() -> frozenset[str]:
    codes = Locale.parse("en").territories
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha()) - NOT_COUNTRIES


def validate_country(value: str) -> str:
    code = (value or "").strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValidationError(_l("Use a two-letter country code, such as FR."), field="country")
    if code not in _countries():
        raise ValidationError(
            _l("%(code)s is not a country code. Use two letters, such as FR.", code=code),
            field="country",
        )
    return code


def _rule_fields(kind: str, applies_to: str, note: str) -> tuple[GeoRuleKind, str, str]:
    try:
        rule_kind = GeoRuleKind(str(kind).strip().lower())
    except ValueError:
        raise ValidationError(_l("Choose allow or deny."), field="kind") from None
    scope = (applies_to or "").strip().lower()
    if scope not in APPLIES_TO:
        raise ValidationError(
            _l("Choose what the rule applies to: trial, signup or all."), field="applies_to"
        )
    note = (note or "").strip()
    if len(note) > 255:
        raise ValidationError(
            _l("This is too long (at most %(n)s characters).", n=255), field="note"
        )
    return rule_kind, scope, note


def _describe(rule: GeoIpRule) -> dict[str, str]:
    return {
        "country": rule.country,
        "kind": str(rule.kind),
        "applies_to": rule.applies_to,
        "note": rule.note,
    }


async def add_rule(
    country: str,
    kind: str,
    applies_to: str = "trial",
    note: str = "",
    actor: User | None = None,
    *,
    ip: str = "",
) -> GeoIpRule:
    """Add a country rule (staff, ``platform.manage``); audited. One rule per country and scope.

    Any ALLOW rule turns its scope into an allow-list; DENY rules close their countries.
    """
    code = validate_country(country)
    rule_kind, scope, note = _rule_fields(kind, applies_to, note)
    try:
        async with db.atomic():
            rule = await GeoIpRule.create(country=code, kind=rule_kind, applies_to=scope, note=note)
            await platform.audit(
                actor, "platform.geoip_rule_added", rule, after=_describe(rule), ip=ip
            )
    except IntegrityError:
        raise Conflict(
            _l("There is already a rule for this country and scope."), field="country"
        ) from None
    return rule


async def remove_rule(rule_id: int, actor: User | None = None, *, ip: str = "") -> None:
    """Delete a country rule (staff, ``platform.manage``); audited."""
    async with db.atomic():
        rule = await GeoIpRule.get_or_none(id=rule_id)
        if rule is None:
            raise NotFound(_l("Not found."))
        before = _describe(rule)
        await rule.delete()
        await platform.audit(actor, "platform.geoip_rule_removed", rule, before=before, ip=ip)


async def list_rules() -> list[GeoIpRule]:
    return await GeoIpRule.all().order_by("applies_to", "kind", "country")
