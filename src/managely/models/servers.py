"""Servers: the tenant hosts ERP sites run on, their health, and their firewall."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from managely.models.base import PublicModel, TimestampedModel


class HostDriver(StrEnum):
    LOCAL = "local"  # subprocess on this machine: `managely dev` and the tests
    SSH = "ssh"


class DbBackend(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


class ServerStatus(StrEnum):
    NEW = "new"
    BOOTSTRAPPING = "bootstrapping"
    ACTIVE = "active"
    DRAINING = "draining"  # keeps its sites, gets no new ones
    UNREACHABLE = "unreachable"
    RETIRED = "retired"


class Server(PublicModel):
    name = fields.CharField(max_length=64, unique=True)
    host = fields.CharField(max_length=255)
    port = fields.IntField(default=22)
    ssh_user = fields.CharField(max_length=32, default="root")
    ssh_key_encrypted = fields.TextField(null=True)
    # A known_hosts line pinned at bootstrap: SSH refuses a host whose key changed.
    host_key = fields.TextField(null=True)
    driver = fields.CharEnumField(HostDriver, max_length=8, default=HostDriver.SSH)
    region = fields.CharField(max_length=32, default="default")
    capacity = fields.IntField(default=50)  # max sites placement puts here
    sites_count = fields.IntField(default=0)
    status = fields.CharEnumField(ServerStatus, max_length=16, default=ServerStatus.NEW)
    # Monitoring marks a server unreachable only after several misses in a row, not one blip.
    consecutive_failures = fields.IntField(default=0)
    last_check_at = fields.DatetimeField(null=True)
    last_ok_at = fields.DatetimeField(null=True)
    tryton_port = fields.IntField(default=8000)
    sites_root = fields.CharField(max_length=255, default="/srv/managely/sites")
    db_backend = fields.CharEnumField(DbBackend, max_length=8, default=DbBackend.SQLITE)
    # For PostgreSQL sites, the cluster as the server sees it: postgresql://user@host:port/
    db_uri = fields.CharField(max_length=255, default="")
    notes = fields.TextField(default="")

    class Meta:
        table = "servers"
        indexes = (("region", "status"),)


class ServerHealthSample(TimestampedModel):
    server = fields.ForeignKeyField(
        "models.Server", related_name="health_samples", on_delete=fields.CASCADE
    )
    sampled_at = fields.DatetimeField()
    ok = fields.BooleanField()
    load1 = fields.FloatField(null=True)  # null when the check failed before measuring
    mem_used_pct = fields.FloatField(null=True)
    disk_used_pct = fields.FloatField(null=True)
    detail = fields.JSONField(default=dict)

    class Meta:
        table = "server_health_samples"
        indexes = (("server_id", "sampled_at"),)


class FirewallDirection(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class FirewallAction(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class FirewallProtocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"


class FirewallRule(TimestampedModel):
    server = fields.ForeignKeyField(
        "models.Server", related_name="firewall_rules", on_delete=fields.CASCADE
    )
    direction = fields.CharEnumField(
        FirewallDirection, max_length=4, default=FirewallDirection.INBOUND
    )
    action = fields.CharEnumField(FirewallAction, max_length=8, default=FirewallAction.ALLOW)
    protocol = fields.CharEnumField(FirewallProtocol, max_length=4, default=FirewallProtocol.TCP)
    port = fields.IntField(null=True)  # null: every port
    source = fields.CharField(max_length=43, default="0.0.0.0/0")  # CIDR, IPv6 fits in 43
    note = fields.CharField(max_length=255, default="")
    # False until a firewall operation has pushed the rule set to the host.
    is_applied = fields.BooleanField(default=False)

    class Meta:
        table = "firewall_rules"
