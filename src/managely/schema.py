"""Migrations: one aerich folder per SQL dialect, both generated from the same models.

Aerich writes dialect-specific SQL, so ``migrations/sqlite`` and ``migrations/postgres`` are
kept side by side; ``make()`` generates both offline (no database needed) and ``upgrade()``
applies the folder that matches the configured database.
"""

from __future__ import annotations

from pathlib import Path

from aerich import Command
from aerich.ddl.sqlite import SqliteDDL
from aerich.migrate import Migrate
from tortoise import Tortoise
from tortoise.context import TortoiseContext

from managely import db

DIALECT_URLS = {
    "sqlite": "sqlite://:memory:",
    # Offline generation never connects: the URL only selects the SQL dialect.
    "postgres": "postgres://offline@127.0.0.1:1/offline",
}


def _command(database_url: str, root: Path) -> Command:
    location = root / db.dialect(database_url)
    return Command(
        tortoise_config=db.tortoise_config(database_url), app="models", location=str(location)
    )


async def upgrade(database_url: str, root: Path = db.MIGRATIONS_ROOT) -> list[str]:
    """Apply every migration the database has not seen; returns their file names."""
    # A context of its own, so the process's ORM state is untouched by aerich's.
    db.forget_cached_sql()
    async with TortoiseContext():
        command = _command(database_url, root)
        try:
            await command.init()
            return await command.upgrade(run_in_transaction=True)
        finally:
            await Tortoise.close_connections()


async def make(name: str, root: Path = db.MIGRATIONS_ROOT) -> dict[str, str]:
    """Write the next migration for each dialect; an empty string means nothing changed."""
    written: dict[str, str] = {}
    for dialect_name, url in DIALECT_URLS.items():
        written[dialect_name] = await _make_one(name, url, root / dialect_name / "models", root)
    return written


# aerich collects a migration's statements in lists on the Migrate class and never empties
# them: without this, the second dialect's file would also get the first dialect's SQL.
_MIGRATE_STATE = (
    "upgrade_operators",
    "downgrade_operators",
    "_upgrade_fk_m2m_index_operators",
    "_downgrade_fk_m2m_index_operators",
    "_upgrade_m2m",
    "_downgrade_m2m",
)


def _reset_aerich_state() -> None:
    for attribute in _MIGRATE_STATE:
        if hasattr(Migrate, attribute):
            setattr(Migrate, attribute, [])


# SQLite keeps no column comments, yet aerich raises on a comment change there, and Tortoise
# writes a CharEnumField's members into its comment: adding a member to an enum would stop
# every SQLite migration. A comment change is nothing to do on SQLite, so it writes nothing.
_add_operator = Migrate._add_operator.__func__


def _add_nonempty_operator(cls, operator: str, upgrade: bool = True, fk_m2m_index: bool = False):
    if operator.strip():
        _add_operator(cls, operator, upgrade, fk_m2m_index)


Migrate._add_operator = classmethod(_add_nonempty_operator)
SqliteDDL.set_comment = lambda self, model, field_describe: ""


async def _make_one(name: str, url: str, folder: Path, root: Path) -> str:
    _reset_aerich_state()
    async with TortoiseContext():
        command = _command(url, root)
        try:
            if not any(folder.glob("*.py")):
                await command.init_migrations(safe=True)
                return sorted(p.name for p in folder.glob("*.py"))[-1]
            await command.init(offline=True)
            return await command.migrate(name, no_input=True, offline=True) or ""
        finally:
            await Tortoise.close_connections()
