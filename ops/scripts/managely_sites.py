"""trytond database mixin for a Managely root on PostgreSQL: list only this root's sites.

bootstrap_server.sh copies this file to <root>/lib/managely_sites.py; <root>/bin/trytond-run
puts that directory on PYTHONPATH and sets TRYTOND_DATABASE__DATABASE_MIXINS to
managely_sites.SiteDatabases (trytond's own extension point, [database] database_mixins).

trytond's PostgreSQL backend opens any database of the cluster it is asked for: it lists a
database it has not loaded yet by connecting to every non-template database, and a
common.db.login to any existing name (template1, another root's site...) opens a connection
pool on it that stays. Here only "<db_prefix><site name>" (from [managely] db_prefix in the
root's trytond.conf) and trytond's maintenance database ([database] default_name) are ever
opened or listed; any other name is answered as a database that does not exist (HTTP 404). So:
- one root's trytond never serves, nor even connects to, another root's databases when several
  roots share a cluster (nor anybody else's: an open session would make their CREATE DATABASE
  ... TEMPLATE, ALTER DATABASE ... RENAME or DROP DATABASE fail);
- a clone still waiting for its admin password ("<prefix>new_<site>"), a template or its build
  ("<prefix>tpl_…"), a restore in progress ("<prefix>rst_…") is never listed nor opened: a site
  name has no "_".
Without a db_prefix, trytond behaves as without this mixin.
"""

from __future__ import annotations

import logging
import os
import re
import time

from trytond import config

logger = logging.getLogger(__name__)

SITE_NAME = re.compile(r"[a-z][a-z0-9-]{1,40}[a-z0-9]")


def _prefix() -> str:
    return config.get("managely", "db_prefix", default="") or ""


def is_site_database(name: str, prefix: str) -> bool:
    return name.startswith(prefix) and SITE_NAME.fullmatch(name[len(prefix) :]) is not None


class SiteDatabases:
    def __new__(cls, name=None):
        prefix = _prefix()
        if name is None:
            return super().__new__(cls)
        default = config.get("database", "default_name", default="template1")
        if prefix and name != default:
            from trytond.backend.postgresql.database import DatabaseOperationalError

            # trytond answers a login to a database it cannot open with 404.
            if not is_site_database(name, prefix):
                raise DatabaseOperationalError(f"{name!r} is not a site database of this root")
            # Nor a connection pool that retries forever for a name that does not exist.
            if name not in cls._databases[os.getpid()] and not cls._site_exists(name, default):
                raise DatabaseOperationalError(f"database {name!r} does not exist")
        return super().__new__(cls, name)

    @classmethod
    def _site_exists(cls, name: str, default: str) -> bool:
        from psycopg import connect

        with connect(cls._connection_params(default)["conninfo"]) as connection:
            row = connection.execute(
                "SELECT 1 FROM pg_database "
                "WHERE datname = %s AND datallowconn AND NOT datistemplate",
                (name,),
            ).fetchone()
        return row is not None

    def list(self, hostname=None):
        prefix = _prefix()
        if not prefix:
            return super().list(hostname=hostname)
        from psycopg import connect

        cls = self.__class__
        now = time.time()
        timeout = config.getint("session", "timeout")
        cached = cls._list_cache.get(hostname)
        timestamp = cls._list_cache_timestamp.get(hostname, now)
        if cached and abs(timestamp - now) < timeout:
            return cached

        connection = self.get_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT datname FROM pg_database "
                    "WHERE NOT datistemplate AND datallowconn AND left(datname, %s) = %s "
                    "ORDER BY datname",
                    (len(prefix), prefix),
                )
                names = [name for (name,) in cursor if is_site_database(name, prefix)]
        finally:
            connection.rollback()
            self.put_connection(connection)

        result = []
        for name in names:
            try:
                conn = connect(self._connection_params(name)["conninfo"])
                try:
                    with conn:
                        if self._test(conn, hostname=hostname):
                            result.append(name)
                finally:
                    conn.close()
            except Exception:
                logger.debug('Test failed for "%s"', name, exc_info=True)
        cls._list_cache[hostname] = result
        cls._list_cache_timestamp[hostname] = now
        return result
