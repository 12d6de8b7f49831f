"""Servers as staff run them: inventory with health, adding, bootstrap, drain, firewall rules.

Every action is audited. Firewall rules are rows first; applying one is an operation that runs
``firewall_rules_management.sh`` with validated argv items (and ``--apply`` only on SSH hosts:
the local driver is this machine, whose firewall is not a tenant server's).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from managely import db
from managely.hosts.base import ScriptRun
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.operations import OperationKind, SaaSOperation
from managely.models.servers import (
    DbBackend,
    FirewallAction,
    FirewallProtocol,
    FirewallRule,
    HostDriver,
    Server,
    ServerHealthSample,
    ServerStatus,
)
from managely.services import operations, servers
from managely.services.errors import Conflict, NotFound, ValidationError
from managely.services.platform import audit

NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"(?=.{{1,253}}$){LABEL}(?:\.{LABEL})*")
SSH_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
ROOT = re.compile(r"/[A-Za-z0-9._/-]{1,254}")
FIREWALL_VARIANT = "firewall"
HISTORY = 24  # health samples the widget charts


@dataclass(frozen=True)
class ServerRow:
    server: Server
    latest: ServerHealthSample | None


def _int(value: str, field: str, low: int, high: int) -> int:
    if not value.strip().isdigit() or not low <= int(value) <= high:
        raise ValidationError(
            _l("Enter a whole number from %(low)s to %(high)s.", low=low, high=high), field=field
        )
    return int(value)


def _host(value: str) -> str:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not HOSTNAME.fullmatch(value) or value.replace(".", "").isdigit():
        raise ValidationError(_l("Enter a host name or an IP address."), field="host")
    return value.lower()


def parse_server_form(form: dict[str, str]) -> dict:
    """The add-server form, validated field by field; keyword arguments for add_server."""
    name = form.get("name", "").strip().lower()
    if not NAME.fullmatch(name):
        raise ValidationError(
            _l("Use lowercase letters, digits and hyphens (at most 63)."), field="name"
        )
    driver = form.get("driver") or "ssh"
    if driver not in {d.value for d in HostDriver}:
        raise ValidationError(_l("Choose SSH or local."), field="driver")
    user = form.get("ssh_user", "root").strip() or "root"
    if not SSH_USER.fullmatch(user):
        raise ValidationError(_l("Enter a valid user name."), field="ssh_user")
    region = form.get("region", "default").strip().lower() or "default"
    if not REGION.fullmatch(region):
        raise ValidationError(
            _l("Use lowercase letters, digits and hyphens (at most 32)."), field="region"
        )
    root = form.get("root", "").strip() or "/srv/managely"
    if not ROOT.fullmatch(root) or ".." in root.split("/"):
        raise ValidationError(_l("Enter an absolute path."), field="root")
    key = form.get("private_key", "").strip()
    if key and not (key.startswith("-----BEGIN ") and "PRIVATE KEY-----" in key):
        raise ValidationError(_l("Paste a private key in PEM or OpenSSH format."), field="key")
    backend = form.get("db_backend") or "sqlite"
    if backend not in {b.value for b in DbBackend}:
        raise ValidationError(_l("Choose SQLite or PostgreSQL."), field="db_backend")
    return {
        "name": name,
        "host": _host(form.get("host", "")),
        "driver": driver,
        "port": _int(form.get("port", "22") or "22", "port", 1, 65535),
        "ssh_user": user,
        "private_key_pem": (key + "\n") if key else None,
        "host_key": form.get("host_key", "").strip() or None,
        "region": region,
        "capacity": _int(form.get("capacity", "50") or "50", "capacity", 1, 10000),
        "root": root,
        "tryton_port": _int(form.get("tryton_port", "8000") or "8000", "tryton_port", 1, 65535),
        "db_backend": backend,
        "db_uri": form.get("db_uri", "").strip(),
    }


def _public(server: Server) -> dict:
    """What the audit trail keeps of a server: never its key."""
    return {
        "name": server.name,
        "host": server.host,
        "port": server.port,
        "ssh_user": server.ssh_user,
        "driver": str(server.driver),
        "region": server.region,
        "capacity": server.capacity,
        "status": str(server.status),
    }


async def inventory() -> list[ServerRow]:
    """Every server with its latest health sample (a handful of servers: one query each)."""
    rows = []
    for server in await Server.all().order_by("region", "name"):
        latest = (
            await ServerHealthSample.filter(server=server).order_by("-sampled_at", "-id").first()
        )
        rows.append(ServerRow(server, latest))
    return rows


async def get(name: str) -> Server:
    return await servers.get_server(name)


async def health(name: str) -> tuple[Server, list[ServerHealthSample]]:
    """The server and its recent samples, newest first."""
    server = await servers.get_server(name)
    samples = (
        await ServerHealthSample.filter(server=server).order_by("-sampled_at", "-id").limit(HISTORY)
    )
    return server, list(samples)


async def add(actor: User, form: dict[str, str], *, ip: str = "") -> Server:
    data = parse_server_form(form)
    async with db.atomic():
        server = await servers.add_server(**data)
        await audit(actor, "server.add", server, after=_public(server), ip=ip)
    return server


async def bootstrap(actor: User, name: str, *, ip: str = "") -> SaaSOperation:
    server = await servers.get_server(name)
    if server.status in (ServerStatus.DRAINING, ServerStatus.RETIRED):
        raise Conflict(_l("Undrain this server before setting it up again."))
    async with db.atomic():
        operation = await servers.bootstrap(server, user=actor)
        await audit(actor, "server.bootstrap", server, after={"operation": operation.code}, ip=ip)
    return operation


async def set_draining(actor: User, name: str, draining: bool, *, ip: str = "") -> Server:
    """Draining: the server keeps its sites and placement gives it no new one; undrain ends it."""
    server = await servers.get_server(name)
    before, after = (
        (ServerStatus.ACTIVE, ServerStatus.DRAINING)
        if draining
        else (ServerStatus.DRAINING, ServerStatus.ACTIVE)
    )
    async with db.atomic():
        changed = await Server.filter(id=server.id, status=before).update(status=after)
        if not changed:
            raise Conflict(
                _l("Only an active server can be drained.")
                if draining
                else _l("This server is not draining.")
            )
        await audit(
            actor,
            "server.drain" if draining else "server.undrain",
            server,
            before={"status": str(before)},
            after={"status": str(after)},
            ip=ip,
        )
    return await Server.get(id=server.id)


# Firewall


def _source(value: str) -> str:
    value = value.strip().lower() or "any"
    if value in ("any", "0.0.0.0/0"):
        return "any"
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValidationError(
            _l("Enter an IP address or network, e.g. 203.0.113.0/24, or leave it empty."),
            field="source",
        ) from None
    return network.compressed if "/" in value else str(network.network_address)


def parse_rule_form(form: dict[str, str]) -> dict:
    action = form.get("action") or "allow"
    if action not in {a.value for a in FirewallAction}:
        raise ValidationError(_l("Choose allow or deny."), field="action")
    protocol = form.get("protocol") or "tcp"
    if protocol not in {p.value for p in FirewallProtocol}:
        raise ValidationError(_l("Choose TCP or UDP."), field="protocol")
    return {
        "action": FirewallAction(action),
        "protocol": FirewallProtocol(protocol),
        "port": _int(form.get("port", ""), "port", 1, 65535),
        "source": _source(form.get("source", "")),
        "note": form.get("note", "").strip()[:255],
    }


def _rule_dict(rule: FirewallRule) -> dict:
    return {
        "action": str(rule.action),
        "protocol": str(rule.protocol),
        "port": rule.port,
        "source": rule.source,
    }


async def rules(server: Server) -> list[FirewallRule]:
    return await FirewallRule.filter(server=server).order_by("port", "id")


async def add_rule(actor: User, name: str, form: dict[str, str], *, ip: str = "") -> FirewallRule:
    server = await servers.get_server(name)
    data = parse_rule_form(form)
    async with db.atomic():
        if await FirewallRule.exists(
            server=server, port=data["port"], protocol=data["protocol"], source=data["source"]
        ):
            raise Conflict(_l("A rule for this port and source exists already."), field="port")
        rule = await FirewallRule.create(server=server, **data)
        await audit(actor, "server.firewall.add", server, after=_rule_dict(rule), ip=ip)
    return rule


async def _rule(server: Server, rule_id: str) -> FirewallRule:
    rule = (
        await FirewallRule.get_or_none(id=int(rule_id), server=server)
        if rule_id.isdigit()
        else None
    )
    if rule is None:
        raise NotFound(_l("Not found."))
    return rule


async def delete_rule(
    actor: User, name: str, rule_id: str, *, ip: str = ""
) -> SaaSOperation | None:
    """An unapplied rule just goes; an applied one is removed from the host by an operation
    (the row goes when it succeeds)."""
    server = await servers.get_server(name)
    rule = await _rule(server, rule_id)
    async with db.atomic():
        await audit(actor, "server.firewall.delete", server, before=_rule_dict(rule), ip=ip)
        if not rule.is_applied:
            await rule.delete()
            return None
        return await _firewall_operation(actor, server, rule, remove=True)


async def apply_rules(actor: User, name: str, *, ip: str = "") -> list[SaaSOperation]:
    """Queue one firewall operation per rule not yet on the host."""
    server = await servers.get_server(name)
    pending = await FirewallRule.filter(server=server, is_applied=False).order_by("id")
    if not pending:
        raise Conflict(_l("Every rule is applied already."))
    async with db.atomic():
        queued = [await _firewall_operation(actor, server, rule) for rule in pending]
        await audit(
            actor,
            "server.firewall.apply",
            server,
            after={"rules": [_rule_dict(r) for r in pending]},
            ip=ip,
        )
    return queued


async def _firewall_operation(
    actor: User, server: Server, rule: FirewallRule, remove: bool = False
) -> SaaSOperation:
    return await operations.create(
        OperationKind.BOOTSTRAP_SERVER,
        user=actor,
        server=server,
        params={
            "variant": FIREWALL_VARIANT,
            "rule": rule.id,
            **_rule_dict(rule),
            "remove": remove,
        },
    )


async def _firewall_args(operation: SaaSOperation) -> list[str]:
    params = operation.params
    args = [
        "--root",
        operation.server.sites_root,
        "--action",
        params["action"],
        "--port",
        str(int(params["port"])),
        "--proto",
        params["protocol"],
        "--source",
        params["source"],
    ]
    if operation.server.driver == HostDriver.SSH:
        args.append("--apply")
    if params.get("remove"):
        args.append("--rollback")
    return args


async def _firewall_done(operation: SaaSOperation, run: ScriptRun) -> None:
    rule = FirewallRule.filter(id=operation.params["rule"], server_id=operation.server_id)
    if operation.params.get("remove"):
        await rule.delete()
    else:
        await rule.update(is_applied=True)


operations.register(
    OperationKind.BOOTSTRAP_SERVER,
    operations.OperationSpec(
        script="firewall_rules_management.sh",
        steps=["validate", "record", "apply"],
        args=_firewall_args,
        on_success=_firewall_done,
        # A failed rule is simply not applied: the script records it only once it passed.
        rollback=False,
        timeout_s=120,
    ),
    variant=FIREWALL_VARIANT,
)
