"""Servers: the inventory, placement of new sites, onboarding (bootstrap) and health.

Placement puts a site on the active server with the most free capacity in the region, never on
a draining or unreachable one, and reserves the slot with a conditional update so two launches
racing for the last slot cannot both take it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tortoise.expressions import F

from managely import crypto, db
from managely.hosts import driver_for
from managely.hosts.base import HostDriver, ScriptRun
from managely.i18n import lazy_gettext as _l
from managely.models.catalog import Package
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.servers import DbBackend, Server, ServerStatus
from managely.models.servers import HostDriver as DriverKind
from managely.services import operations
from managely.services.errors import Conflict, NotFound, ValidationError

# What bootstrap_server.sh accepts for --db-uri: a cluster, never a password or options.
PG_URI = re.compile(r"postgresql://([A-Za-z0-9._-]{1,63}@)?[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?/")

_drivers: dict[int, tuple[object, HostDriver]] = {}
LOCAL_SERVER = "local-1"


def driver_for_server(server: Server) -> HostDriver:
    """One driver per server and version of its row, so an SSH connection is reused."""
    cached = _drivers.get(server.id)
    if cached is not None and cached[0] == server.updated_at:
        return cached[1]
    if server.driver == DriverKind.LOCAL:
        driver = driver_for("local")
    else:
        driver = driver_for(
            "ssh",
            host=server.host,
            port=server.port,
            username=server.ssh_user,
            private_key_pem=crypto.decrypt(server.ssh_key_encrypted or ""),
            known_host=server.host_key,
        )
    _drivers[server.id] = (server.updated_at, driver)
    return driver


async def close_drivers() -> None:
    for _, driver in _drivers.values():
        await driver.close()
    _drivers.clear()


async def add_server(
    *,
    name: str,
    host: str,
    driver: str = "ssh",
    port: int = 22,
    ssh_user: str = "root",
    private_key_pem: str | None = None,
    host_key: str | None = None,
    region: str = "default",
    capacity: int = 50,
    root: str = "/srv/managely",
    tryton_port: int = 8000,
    db_backend: str = "sqlite",
    db_uri: str = "",
) -> Server:
    if await Server.exists(name=name):
        raise Conflict(_l("A server with this name already exists."), field="name")
    if driver == "ssh" and not private_key_pem:
        raise ValidationError(_l("An SSH server needs a private key."), field="key")
    if db_backend == DbBackend.POSTGRES and not PG_URI.fullmatch(db_uri or ""):
        raise ValidationError(
            _l("A PostgreSQL server needs its cluster, as postgresql://user@host:port/."),
            field="db_uri",
        )
    if not 1024 <= tryton_port <= 32767:
        raise ValidationError(
            _l("The ERP port must be between 1024 and 32767."), field="tryton_port"
        )
    return await Server.create(
        name=name,
        host=host,
        driver=DriverKind(driver),
        port=port,
        ssh_user=ssh_user,
        ssh_key_encrypted=crypto.encrypt(private_key_pem) if private_key_pem else None,
        host_key=host_key,
        region=region,
        capacity=capacity,
        sites_root=root,
        tryton_port=tryton_port,
        db_backend=DbBackend(db_backend),
        db_uri=db_uri if db_backend == DbBackend.POSTGRES else "",
    )


async def get_server(name: str) -> Server:
    server = await Server.get_or_none(name=name)
    if server is None:
        raise NotFound(_l("No server with this name."))
    return server


async def ensure_local_server(root: Path, tryton_port: int) -> Server:
    """The server ``managely dev`` deploys to: this machine, under the data dir."""
    server = await Server.get_or_none(name=LOCAL_SERVER)
    if server is None:
        server = await add_server(
            name=LOCAL_SERVER,
            host="127.0.0.1",
            driver="local",
            root=str(root),
            tryton_port=tryton_port,
            capacity=200,
        )
    return server


async def place(region: str = "default") -> Server:
    """Reserve a slot on the active server with the most room; no room is a clear error."""
    for _ in range(5):
        candidates = (
            await Server.filter(
                region=region, status=ServerStatus.ACTIVE, sites_count__lt=F("capacity")
            )
            .annotate(room=F("capacity") - F("sites_count"))
            .order_by("-room", "id")
            .limit(3)
        )
        for server in candidates:
            taken = await Server.filter(
                id=server.id, status=ServerStatus.ACTIVE, sites_count=server.sites_count
            ).update(sites_count=server.sites_count + 1)
            if taken:
                return await Server.get(id=server.id)
    raise Conflict(_l("No server has room for a new system right now. Please try again later."))


async def release(server_id: int | None) -> None:
    if server_id is not None:
        await Server.filter(id=server_id, sites_count__gt=0).update(
            sites_count=F("sites_count") - 1
        )


async def drain(server: Server) -> None:
    server.status = ServerStatus.DRAINING
    await server.save(update_fields=["status", "updated_at"])


async def _all_modules() -> list[str]:
    modules: set[str] = set()
    for package in await Package.filter(is_active=True):
        modules.update(package.tryton_modules or [])
    return sorted(modules)


async def _bootstrap_args(operation: SaaSOperation) -> list[str]:
    server = operation.server
    args = ["--root", server.sites_root, "--port", str(server.tryton_port)]
    if server.driver == DriverKind.LOCAL:
        # The local host uses this interpreter, which has trytond: nothing is downloaded.
        args += ["--python", sys.executable]
    if server.db_backend == DbBackend.POSTGRES:
        args += ["--db-uri", server.db_uri]
    modules = await _all_modules()
    if modules:
        args += ["--modules", ",".join(modules)]
    return args


async def _bootstrapped(operation: SaaSOperation, run: ScriptRun) -> None:
    server = operation.server
    server.status = ServerStatus.ACTIVE
    server.consecutive_failures = 0
    await server.save()
    for package in await Package.filter(is_active=True):
        await operations.create(
            OperationKind.BOOTSTRAP_SERVER,
            server=server,
            params={"variant": "template", "package": package.slug},
        )


async def _bootstrap_failed(operation: SaaSOperation) -> None:
    await Server.filter(id=operation.server_id, status=ServerStatus.BOOTSTRAPPING).update(
        status=ServerStatus.NEW
    )


async def _template_args(operation: SaaSOperation) -> list[str]:
    package = await Package.get(slug=operation.params["package"])
    modules = ",".join(package.tryton_modules or ["sale"])
    return ["--root", operation.server.sites_root, "--package", package.slug, "--modules", modules]


operations.register(
    OperationKind.BOOTSTRAP_SERVER,
    operations.OperationSpec(
        script="bootstrap_server.sh",
        steps=["prepare_dirs", "install_trytond", "write_config", "start_service", "check_service"],
        args=_bootstrap_args,
        on_success=_bootstrapped,
        on_failure=_bootstrap_failed,
        rollback=False,
        timeout_s=1800,
    ),
)
operations.register(
    OperationKind.BOOTSTRAP_SERVER,
    operations.OperationSpec(
        script="build_template.sh",
        steps=["check_template", "create_template"],
        args=_template_args,
        rollback=False,
        timeout_s=1800,
    ),
    variant="template",
)


async def bootstrap(server: Server, user=None) -> SaaSOperation:
    """Queue the server's bootstrap: trytond installed and serving, then package templates.

    Refused only while another bootstrap is queued or running; the script is idempotent, so
    bootstrapping again (a restart, a crashed earlier run) is how a server is repaired.
    """
    async with db.atomic():
        busy = await SaaSOperation.filter(
            server=server,
            kind=OperationKind.BOOTSTRAP_SERVER,
            status__in=[OperationStatus.QUEUED, OperationStatus.RUNNING],
        ).exists()
        if busy:
            raise Conflict(_l("This server is already being set up."))
        await (
            Server.filter(id=server.id)
            .exclude(status__in=[ServerStatus.DRAINING, ServerStatus.RETIRED])
            .update(status=ServerStatus.BOOTSTRAPPING)
        )
        return await operations.create(OperationKind.BOOTSTRAP_SERVER, user=user, server=server)


async def check(server: Server) -> ScriptRun:
    """Run the health check now and return what it measured (recording it is the monitor's)."""
    run = await driver_for_server(server).run(
        "system_health_check.sh",
        ["--root", server.sites_root, "--port", str(server.tryton_port)],
        timeout=60,
    )
    return run


def set_driver(server: Server, driver: HostDriver) -> None:
    """Use ``driver`` for ``server`` (tests plug in drivers with their own scripts)."""
    _drivers[server.id] = (server.updated_at, driver)


async def stop_local_server() -> None:
    """``managely dev`` stops the trytond it started, so nothing outlives it."""
    server = await Server.get_or_none(name=LOCAL_SERVER)
    if server is not None:
        await driver_for_server(server).run(
            "stop_service.sh", ["--root", server.sites_root], timeout=60
        )
