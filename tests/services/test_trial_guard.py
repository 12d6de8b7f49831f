"""Trial abuse controls: one trial per verified mailbox, per device and a few per network in a
window; staff country rules read from a MaxMind-format database; refusals write nothing."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime, timedelta

import pytest
from babel.support import LazyProxy
from mmdb_writer import MMDBWriter
from netaddr import IPSet  # mmdb-writer's own input type (a dependency of mmdb-writer)

from managely import db, settings
from managely.i18n import use_locale
from managely.models.accounts import DeviceFingerprint, ServiceBeneficiary, TrialStart
from managely.models.catalog import Package, PackagePeriod
from managely.models.launches import Launch
from managely.models.platform import AuditLog, GeoIpRule
from managely.models.subscriptions import Subscription, SubscriptionStatus
from managely.services import accounts, seed, trial_guard
from managely.services.errors import Conflict, Forbidden, NotFound, ValidationError
from managely.services.trial_guard import RequestTraits, TrialRefused
from managely.settings import SettingsError, load

FRANCE = "203.0.113.7"
SAUDI = "198.51.100.20"
ELSEWHERE = "192.0.2.1"  # in no network of the test database
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", "Accept-Language": "en"}


def traits(ip: str = ELSEWHERE, device: str | None = "device-alice-000001") -> RequestTraits:
    headers = dict(BROWSER)
    if device:
        headers["Cookie"] = f"theme=dark; {trial_guard.DEVICE_COOKIE}={device}"
    return RequestTraits.from_request(headers, ip)


async def start_trial(user, request: RequestTraits) -> TrialStart:
    """What create_system does: check with nothing written, then record in its transaction."""
    await trial_guard.check_trial_allowed(user, request)
    async with db.atomic():
        return await trial_guard.record_trial(user, request)


async def refused(user, request: RequestTraits) -> TrialRefused:
    before = await row_counts()
    with pytest.raises(TrialRefused) as caught:
        await start_trial(user, request)
    assert await row_counts() == before, "a refusal must write nothing"
    return caught.value


async def row_counts() -> dict[str, int]:
    models = (TrialStart, DeviceFingerprint, Subscription, Launch, AuditLog, GeoIpRule)
    return {model.__name__: await model.all().count() for model in models}


async def customer(email: str):
    return await accounts.create_user(email=email, password=None, name=email.split("@")[0])


@pytest.fixture
def configure(monkeypatch):
    """Set MANAGELY_* variables for one test; the next test gets the committed test env back."""

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"MANAGELY_{name}", value)
        settings.reset()

    yield apply
    monkeypatch.undo()
    settings.reset()


@pytest.fixture
def geoip(tmp_path, configure):
    """A small country database in the format MaxMind ships (IPv6 tree holding IPv4 too)."""
    path = tmp_path / "countries.mmdb"
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    for network, code in {
        "203.0.113.0/24": "FR",
        "198.51.100.0/24": "SA",
        "2001:db8:f::/48": "FR",
    }.items():
        writer.insert_network(IPSet([network]), {"country": {"iso_code": code}})
    writer.to_db_file(str(path))
    configure(GEOIP_DB=str(path))
    return path


# --- fingerprints and mailboxes -----------------------------------------------------------


def test_the_device_cookie_names_the_device_whatever_the_headers_or_address():
    first = trial_guard.fingerprint(
        {**BROWSER, "Cookie": "managely_device=abcdefghijklmnop"}, "1.2.3.4"
    )
    updated = {
        "user-agent": "Mozilla/5.0 Firefox/141.0",
        "cookie": "managely_device=abcdefghijklmnop",
    }
    assert trial_guard.fingerprint(updated, "5.6.7.8") == first
    assert trial_guard.fingerprint(BROWSER, "", device_id="abcdefghijklmnop") == first
    assert len(first) == 64 and int(first, 16) >= 0


def test_without_a_device_id_the_stable_headers_decide_and_the_address_does_not():
    plain = trial_guard.fingerprint(BROWSER, "1.2.3.4")
    assert trial_guard.fingerprint(BROWSER, "9.9.9.9") == plain
    assert trial_guard.fingerprint({**BROWSER, "Accept-Language": "ar"}, "1.2.3.4") != plain
    hinted = {**BROWSER, "Sec-CH-UA-Platform": '"Linux"'}
    assert trial_guard.fingerprint(hinted, "1.2.3.4") != plain
    # A malformed device id is ignored rather than trusted.
    assert trial_guard.fingerprint({**BROWSER, "Cookie": "managely_device=x;y"}, "") == plain
    assert trial_guard.fingerprint({**BROWSER, "X-Other": "1"}, "") == plain


def test_a_new_device_id_is_accepted_as_one():
    assert trial_guard.DEVICE_ID_RE.fullmatch(trial_guard.new_device_id())


@pytest.mark.parametrize(
    ("email", "mailbox"),
    [
        ("John.Smith+trial@Gmail.com", "johnsmith@gmail.com"),
        ("j.o.h.n.smith@googlemail.com", "johnsmith@gmail.com"),
        ("alice+2@example.com", "alice@example.com"),
        ("first.last@example.com", "first.last@example.com"),  # dots matter outside gmail
    ],
)
def test_mailbox_variants_reduce_to_one(email, mailbox):
    assert trial_guard.canonical_mailbox(email) == mailbox


def test_an_ipv6_network_counts_as_its_64():
    assert trial_guard.network_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert trial_guard.network_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert trial_guard.network_key("::ffff:203.0.113.7") == FRANCE
    assert trial_guard.network_key("not an ip") == ""


# --- the account rules --------------------------------------------------------------------


async def test_a_verified_customer_gets_a_trial_and_it_is_recorded(alice):
    start = await start_trial(alice, traits(FRANCE))
    assert start.user_id == alice.id and start.ip == FRANCE
    assert start.fingerprint == traits().fingerprint
    assert start.email_hash == hashlib.sha256(b"alice@example.com").hexdigest()  # not the address
    device = await DeviceFingerprint.get(user=alice)
    assert (device.fingerprint, device.ip) == (start.fingerprint, FRANCE)


async def test_an_unverified_email_is_refused_in_english_as_a_lazy_string(alice):
    alice.email_verified_at = None
    await alice.save()
    error = await refused(alice, traits())
    assert error.reason == "email_unverified"
    assert isinstance(error, Forbidden) and error.status == 403
    assert isinstance(error.message, LazyProxy)
    with use_locale("en"):
        assert str(error) == "Please verify your email address before starting a free trial."


async def test_one_trial_per_mailbox_even_through_gmail_dots_and_plus_tags(database):
    john = await customer("john.smith@gmail.com")
    await start_trial(john, traits(device="device-john-0000001"))
    assert (await refused(john, traits(device="device-john-0000002"))).reason == "email_used"
    for variant in ("johnsmith+trial@gmail.com", "j.ohn.smith@googlemail.com"):
        other = await customer(variant)
        error = await refused(other, traits(ip="192.0.2.99", device=f"device-{other.id:016d}"))
        assert error.reason == "email_used"
        with use_locale("en"):
            assert str(error.message).startswith("This email address has already had a free trial")


async def test_a_plus_tag_is_the_same_mailbox_on_any_domain(alice):
    await start_trial(alice, traits())
    tagged = await customer("alice+again@example.com")
    assert (await refused(tagged, traits(device="device-tagged-00001"))).reason == "email_used"


async def test_an_earlier_trial_subscription_counts_without_a_record(alice):
    await seed.seed_demo()
    package = await Package.get(slug="starter")
    period = await PackagePeriod.filter(package=package).first()
    await Subscription.create(
        user=alice,
        beneficiary=await ServiceBeneficiary.get(owner=alice),
        package=package,
        period=period,
        currency=period.currency,
        status=SubscriptionStatus.EXPIRED,  # it ended, but it was a trial
        price_minor=period.price_minor,
        trial_ends_at=datetime.now(UTC) - timedelta(days=3),
    )
    assert (await refused(alice, traits())).reason == "email_used"


async def test_a_second_trial_from_the_same_device_is_refused_for_another_user(alice, charlie):
    await start_trial(alice, traits(device="shared-laptop-000001"))
    error = await refused(charlie, traits(ip="192.0.2.50", device="shared-laptop-000001"))
    assert error.reason == "device_used"
    with use_locale("en"):
        assert str(error) == (
            "A free trial has already been started from this device. "
            "You can choose a paid plan instead."
        )
    await start_trial(charlie, traits(ip="192.0.2.50", device="charlies-own-000001"))


async def test_a_network_gets_a_few_trials_per_window(database, configure):
    configure(TRIALS_PER_IP="2", TRIAL_IP_WINDOW_HOURS="6")
    users = [await customer(f"user{n}@example.com") for n in range(4)]
    home = "2001:db8:1:2::10"
    await start_trial(users[0], traits(home, device="device-user0-000001"))
    await start_trial(users[1], traits("2001:db8:1:2::99", device="device-user1-000001"))
    error = await refused(users[2], traits("2001:db8:1:2:ffff::1", device="device-user2-000001"))
    assert error.reason == "network_busy"
    await start_trial(users[2], traits("2001:db8:1:3::1", device="device-user2-000001"))
    # Once the window has passed, the network may start trials again.
    await TrialStart.all().update(created_at=datetime.now(UTC) - timedelta(hours=7))
    await start_trial(users[3], traits(home, device="device-user3-000001"))


async def test_two_racing_requests_cannot_both_start_a_trial_from_one_device(alice, charlie):
    shared = traits(device="raced-device-000001")

    async def attempt(user):
        async with db.atomic():
            await trial_guard.record_trial(user, shared)
            await asyncio.sleep(0.05)  # keep the transaction open while the other one tries

    results = await asyncio.gather(attempt(alice), attempt(charlie), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "TrialRefused"]
    assert await TrialStart.all().count() == 1


async def test_two_racing_requests_cannot_both_take_a_networks_last_trial(
    configure, alice, charlie
):
    configure(TRIALS_PER_IP="1")  # no unique column covers a count: only the lock does

    async def attempt(user, device):
        async with db.atomic():
            await trial_guard.record_trial(user, traits(device=device))
            await asyncio.sleep(0.05)

    results = await asyncio.gather(
        attempt(alice, "device-alice-000001"),
        attempt(charlie, "device-charlie-0001"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "TrialRefused"]
    assert await TrialStart.all().count() == 1


async def test_a_writer_that_skipped_the_checks_still_hits_the_unique_device(
    alice, charlie, monkeypatch
):
    async def no_checks(user, request, package=None):
        return None

    monkeypatch.setattr(trial_guard, "check_trial_allowed", no_checks)
    await start_trial(alice, traits(device="unchecked-device-01"))
    async with db.atomic():
        with pytest.raises(TrialRefused) as caught:
            await trial_guard.record_trial(charlie, traits(device="unchecked-device-01"))
        assert caught.value.reason == "duplicate"
        assert await TrialStart.all().count() == 1  # the outer transaction is still usable


async def test_recording_outside_a_transaction_is_a_programming_error(alice):
    with pytest.raises(RuntimeError, match="inside the db.atomic"):
        await trial_guard.record_trial(alice, traits())
    assert await TrialStart.all().count() == 0


# --- countries ----------------------------------------------------------------------------


async def test_a_deny_rule_closes_trials_in_that_country(geoip, alice, bob, charlie):
    await trial_guard.add_rule("fr", "deny", "trial", "card fraud wave", actor=bob)
    error = await refused(alice, traits(FRANCE))
    assert error.reason == "country"
    assert isinstance(error.message, LazyProxy)
    with use_locale("en"):
        assert str(error) == "Free trials are not available in your country."
    assert (await refused(alice, traits("2001:db8:f::1"))).reason == "country"
    await start_trial(charlie, traits(SAUDI, device="device-charlie-0001"))
    await start_trial(alice, traits("10.1.2.3"))  # an address no country claims


async def test_an_allow_rule_turns_the_scope_into_an_allow_list(geoip, alice, bob, charlie):
    await trial_guard.add_rule("SA", "allow", "all", actor=bob)
    assert (await refused(alice, traits(FRANCE))).reason == "country"
    assert (await refused(alice, traits("10.1.2.3"))).reason == "country"
    await start_trial(charlie, traits(SAUDI, device="device-charlie-0001"))


async def test_rules_for_signup_only_leave_trials_alone(geoip, alice, bob):
    await trial_guard.add_rule("FR", "deny", "signup", actor=bob)
    await start_trial(alice, traits(FRANCE))


async def test_a_missing_database_turns_the_rules_off_and_says_so_once(
    tmp_path, configure, alice, bob, caplog
):
    missing = tmp_path / "nowhere" / "countries.mmdb"
    configure(GEOIP_DB=str(missing))
    await trial_guard.add_rule("FR", "deny", actor=bob)
    caplog.set_level(logging.WARNING, logger="managely.services.trial_guard")
    for _ in range(3):
        await trial_guard.check_trial_allowed(alice, traits(FRANCE))
    await start_trial(alice, traits(FRANCE))
    said = [r.getMessage() for r in caplog.records if "GeoIP" in r.getMessage()]
    assert said == [f"GeoIP country rules are off: {missing} does not exist"]


async def test_a_replaced_database_is_read_again(geoip, alice, bob):
    await trial_guard.add_rule("SA", "deny", actor=bob)
    assert trial_guard.country_of(FRANCE) == "FR"
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "SA"}})
    replacement = geoip.with_suffix(".new")
    writer.to_db_file(str(replacement))
    replacement.replace(geoip)
    assert trial_guard.country_of(FRANCE) == "SA"
    assert (await refused(alice, traits(FRANCE))).reason == "country"


# --- staff management of the rules --------------------------------------------------------


async def test_staff_add_list_and_remove_rules_with_an_audit_trail(database, bob):
    rule = await trial_guard.add_rule(" fr ", "DENY", "trial", "  fraud  ", actor=bob, ip="::1")
    assert (rule.country, rule.kind, rule.applies_to, rule.note) == ("FR", "deny", "trial", "fraud")
    await trial_guard.add_rule("SA", "allow", "all", actor=bob)
    assert [(r.country, r.applies_to) for r in await trial_guard.list_rules()] == [
        ("SA", "all"),
        ("FR", "trial"),
    ]
    with pytest.raises(Conflict, match="already a rule"):
        await trial_guard.add_rule("FR", "allow", "trial", actor=bob)
    await trial_guard.remove_rule(rule.id, actor=bob)
    with pytest.raises(NotFound):
        await trial_guard.remove_rule(rule.id, actor=bob)
    entries = await AuditLog.filter(actor=bob).order_by("id")
    assert [e.action for e in entries] == [
        "platform.geoip_rule_added",
        "platform.geoip_rule_added",
        "platform.geoip_rule_removed",
    ]
    assert entries[0].after["country"] == "FR" and entries[0].ip == "::1"
    assert entries[2].before == {
        "country": "FR",
        "kind": "deny",
        "applies_to": "trial",
        "note": "fraud",
    }


@pytest.mark.parametrize(
    ("country", "kind", "applies_to", "field", "message"),
    [
        ("FRA", "deny", "trial", "country", "two-letter country code"),
        ("F1", "deny", "trial", "country", "two-letter country code"),
        ("", "deny", "trial", "country", "two-letter country code"),
        ("ÉÉ", "deny", "trial", "country", "two-letter country code"),
        ("QQ", "deny", "trial", "country", "QQ is not a country code"),
        ("ZZ", "deny", "trial", "country", "ZZ is not a country code"),
        ("FR", "block", "trial", "kind", "Choose allow or deny"),
        ("FR", "deny", "everything", "applies_to", "trial, signup or all"),
    ],
)
async def test_bad_rules_are_refused_clearly_and_nothing_is_written(
    database, bob, country, kind, applies_to, field, message
):
    with pytest.raises(ValidationError, match=message) as caught:
        await trial_guard.add_rule(country, kind, applies_to, actor=bob)
    assert caught.value.field == field
    assert await GeoIpRule.all().count() == 0 and await AuditLog.all().count() == 0


async def test_a_long_note_is_refused(database, bob):
    with pytest.raises(ValidationError, match="too long") as caught:
        await trial_guard.add_rule("FR", "deny", "trial", "x" * 256, actor=bob)
    assert caught.value.field == "note"


# --- settings -----------------------------------------------------------------------------


def test_trial_settings_have_defaults_and_refuse_bad_values(tmp_path):
    base = {"MANAGELY_SECRET_KEY": "k" * 40, "MANAGELY_DATA_DIR": str(tmp_path)}
    defaults = load(base)
    assert (defaults.geoip_db, defaults.trials_per_ip, defaults.trial_ip_window_hours) == (
        None,
        3,
        24,
    )
    missing = tmp_path / "later.mmdb"  # a missing file is the reader's to report, not fatal
    assert load({**base, "MANAGELY_GEOIP_DB": str(missing)}).geoip_db == missing
    with pytest.raises(SettingsError, match="MANAGELY_GEOIP_DB must name a file"):
        load({**base, "MANAGELY_GEOIP_DB": str(tmp_path)})
    with pytest.raises(SettingsError, match="MANAGELY_TRIALS_PER_IP must be between 1"):
        load({**base, "MANAGELY_TRIALS_PER_IP": "0"})
    with pytest.raises(SettingsError, match="MANAGELY_TRIAL_IP_WINDOW_HOURS must be a whole"):
        load({**base, "MANAGELY_TRIAL_IP_WINDOW_HOURS": "a day"})
