"""Migrations: both dialect folders match the models, and upgrade works from empty and again."""

from __future__ import annotations

import shutil

from tortoise import Tortoise

from managely import db, schema


async def test_neither_migration_folder_is_behind_the_models(tmp_path):
    copy = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_ROOT, copy)
    written = await schema.make("drift", root=copy)
    assert written == {"sqlite": "", "postgres": ""}, (
        f"models changed without a migration: run `managely makemigrations NAME` ({written})"
    )


async def test_the_folders_hold_the_same_migrations():
    names = {
        dialect: sorted(
            p.stem.split("_", 1)[0] for p in (db.MIGRATIONS_ROOT / dialect / "models").glob("*.py")
        )
        for dialect in schema.DIALECT_URLS
    }
    assert names["sqlite"] == names["postgres"] and names["sqlite"]


async def test_upgrade_ran_from_empty_and_a_second_run_changes_nothing(database):
    tier = database
    assert tier.applied, "the tier's template database was migrated from empty"
    url = tier.url_for(tier.template)
    assert await schema.upgrade(url) == []


async def test_every_model_has_its_table(database):
    conn = Tortoise.get_connection("default")
    for model in Tortoise.apps["models"].values():
        await conn.execute_query(f'SELECT COUNT(*) FROM "{model._meta.db_table}"')  # noqa: S608 (our own table names)
