"""The ``managely`` command: run the embedded product, migrate, run the clock, manage users."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import click

from managely import db, schema
from managely.settings import SettingsError, get_settings

log = logging.getLogger("managely")


def _run(coro) -> None:
    try:
        asyncio.run(coro)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main() -> None:
    """Managely: sell and run ERP systems as a service."""
    logging.basicConfig(
        level=os.environ.get("MANAGELY_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
def migrate() -> None:
    """Apply database migrations, then compile translations."""
    from managely import translations

    async def go() -> None:
        applied = await schema.upgrade(get_settings().database_url)
        click.echo(f"migrations applied: {len(applied)} {' '.join(applied)}".rstrip())

    _run(go())
    translations.compile_catalogs()


@main.command()
@click.argument("name")
def makemigrations(name: str) -> None:
    """Generate the next migration for SQLite and PostgreSQL from the models."""
    written = asyncio.run(schema.make(name))
    for dialect_name, filename in written.items():
        click.echo(f"{dialect_name}: {filename or 'no changes'}")


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", default="customer", show_default=True)
@click.option("--name", default="")
def create_user(email: str, password: str, role: str, name: str) -> None:
    """Create a user with a verified email and one role."""
    from managely.services import accounts
    from managely.services.errors import ServiceError

    async def go() -> None:
        await db.init(get_settings())
        try:
            await accounts.ensure_roles()
            user = await accounts.create_user(
                email=email, password=password, name=name or email.split("@")[0], role=role
            )
            click.echo(f"created {user.email} ({role})")
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            await db.close()

    _run(go())


@main.command("seed-demo")
def seed_demo() -> None:
    """Create the demo catalog and roles (safe to run again)."""
    from managely.services import seed

    async def go() -> None:
        await db.init(get_settings())
        try:
            counts = await seed.seed_demo()
        finally:
            await db.close()
        click.echo(f"demo catalog: {counts}")

    _run(go())


@main.command("seed-load")
@click.option("--users", default=100_000, show_default=True, type=click.IntRange(min=0))
@click.option("--ledger", default=1_000_000, show_default=True, type=click.IntRange(min=0))
@click.option("--operations", default=20_000, show_default=True, type=click.IntRange(min=0))
def seed_load(users: int, ledger: int, operations: int) -> None:
    """Seed a large data set for load tests (bulk inserts; a second run adds nothing)."""
    import time

    from managely import loadseed

    async def go() -> None:
        await db.init(get_settings())
        try:
            started = time.perf_counter()
            added = await loadseed.seed_load(users=users, ledger=ledger, operations=operations)
        finally:
            await db.close()
        click.echo(
            f"seed-load added users={added.users} ledger={added.ledger} "
            f"operations={added.operations} in {time.perf_counter() - started:.1f} s"
        )

    _run(go())


@main.command()
def clock() -> None:
    """Run the scheduler: it only enqueues, and one leader at a time does."""
    from managely.jobs import clock as clock_jobs

    _run(clock_jobs.run_forever())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def dev(host: str, port: int) -> None:
    """Run the whole product in one process: web, worker and clock."""
    from managely import embedded

    try:
        asyncio.run(embedded.serve(host, port))
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        sys.exit(0)


@main.group("servers")
def servers_group() -> None:
    """Tenant servers: add, bootstrap, check, drain, list."""


def _with_db(coro_factory):
    async def go():
        import managely.jobs  # noqa: F401  (operation kinds and actors)
        from managely.services.errors import ServiceError

        await db.init(get_settings())
        try:
            return await coro_factory()
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            from managely.services import servers

            await servers.close_drivers()
            await db.close()

    return _run(go())


@servers_group.command("add")
@click.argument("name")
@click.option("--host", required=True)
@click.option("--port", default=22, show_default=True, type=int)
@click.option("--user", "ssh_user", default="root", show_default=True)
@click.option("--key-file", type=click.Path(exists=True, dir_okay=False), help="SSH private key")
@click.option("--known-host", help="the server's public host key line (ssh-keyscan)")
@click.option("--driver", type=click.Choice(["ssh", "local"]), default="ssh", show_default=True)
@click.option("--region", default="default", show_default=True)
@click.option("--capacity", default=50, show_default=True, type=int)
@click.option("--root", default="/srv/managely", show_default=True)
@click.option("--tryton-port", default=8000, show_default=True, type=int)
@click.option(
    "--db-uri",
    default="",
    help="sites on PostgreSQL: the cluster as the server sees it, postgresql://user@host:port/",
)
def servers_add(
    name,
    host,
    port,
    ssh_user,
    key_file,
    known_host,
    driver,
    region,
    capacity,
    root,
    tryton_port,
    db_uri,
) -> None:
    """Register a server (its key is stored encrypted)."""
    from pathlib import Path

    from managely.services import servers

    key = Path(key_file).read_text() if key_file else None

    async def go():
        server = await servers.add_server(
            name=name,
            host=host,
            port=port,
            ssh_user=ssh_user,
            private_key_pem=key,
            host_key=known_host,
            driver=driver,
            region=region,
            capacity=capacity,
            root=root,
            tryton_port=tryton_port,
            db_backend="postgres" if db_uri else "sqlite",
            db_uri=db_uri,
        )
        click.echo(
            f"added {server.name} ({server.driver}, {server.region}, capacity {server.capacity})"
        )

    _with_db(go)


@servers_group.command("bootstrap")
@click.argument("name")
def servers_bootstrap(name: str) -> None:
    """Install and start the ERP on a server, then build the package templates (waits)."""
    from managely.services import operations, servers

    async def go():
        server = await servers.get_server(name)
        operation = await servers.bootstrap(server)
        done = await operations.run(operation.id)
        if done is None:
            raise click.ClickException(f"operation {operation.code} was taken by a worker")
        click.echo(f"bootstrap {done.status}: {done.error_detail or done.result}")
        if done.status != "succeeded":
            raise SystemExit(1)
        for child in await operations.queued_for_server(server):
            finished = await operations.run(child.id)
            if finished is not None:
                click.echo(f"{child.params.get('package')} template {finished.status}")

    _with_db(go)


@servers_group.command("check")
@click.argument("name")
def servers_check(name: str) -> None:
    """Run the health check on a server now."""
    from managely.services import servers

    async def go():
        run = await servers.check(await servers.get_server(name))
        click.echo(" ".join(f"{k}={v}" for k, v in sorted(run.results.items())) or run.error)
        if run.exit_code != 0:
            raise SystemExit(1)

    _with_db(go)


@servers_group.command("drain")
@click.argument("name")
def servers_drain(name: str) -> None:
    """Stop placing new sites on a server."""
    from managely.services import servers

    async def go():
        await servers.drain(await servers.get_server(name))
        click.echo(f"{name} is draining: no new sites will be placed there")

    _with_db(go)


@servers_group.command("list")
def servers_list() -> None:
    """List servers with their capacity and status."""
    from managely.models.servers import Server

    async def go():
        for server in await Server.all().order_by("name"):
            click.echo(
                f"{server.name:20} {server.driver:6} {server.region:10} "
                f"{server.sites_count}/{server.capacity:<5} {server.status}"
            )

    _with_db(go)


@main.group("api-tokens")
def api_tokens_group() -> None:
    """Personal API tokens for scripts (ops/scripts/recharge_wallet.sh …)."""


@api_tokens_group.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", default="cli", show_default=True)
@click.option("--scopes", default="read,write", show_default=True, help="read, write, admin")
def api_tokens_create(email: str, name: str, scopes: str) -> None:
    """Create a token and print it (it is shown this once only)."""
    from managely.services import accounts, api_tokens

    async def go():
        user = await accounts.get_user_by_email(email)
        if user is None:
            raise click.ClickException(f"no user {email}")
        chosen = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        _, value = await api_tokens.create(user, name=name, scopes=chosen)
        click.echo(value)

    _with_db(go)


@main.group("invoices")
def invoices_group() -> None:
    """Invoices: the PDF pass the clock also runs."""


@invoices_group.command("process")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
def invoices_process(limit: int) -> None:
    """Draw the PDF of issued invoices that have none yet; prints how many."""
    from managely.services import invoices

    async def go():
        click.echo(f"invoices drawn: {await invoices.process_invoices(limit)}")

    _with_db(go)
