#!/usr/bin/env python3
"""Talk to the tenant server's trytond for the ops scripts (stdlib only, except set-password).

Subcommands (output follows the ops protocol: log lines, `::error <reason>` before exit 1;
set-password and modules need trytond, so they run with the server's interpreter):

  [--host H] --port P ping            exit 0 when anything answers HTTP on H:P
  [--host H] --port P version         print the trytond series (common.server.version)
  [--host H] --port P load DB         make trytond load database DB (see below)
  [--host H] --port P login DB LOGIN  JSON-RPC common.db.login; password on stdin
  set-password DBFILE LOGIN [--rename-from OLD]
  set-password --uri postgresql://USER@HOST:PORT/ DBNAME LOGIN [--rename-from OLD]
                                      store the hash of the password read from stdin,
                                      computed by trytond's own res.user.hash_password, in
                                      a SQLite file or a PostgreSQL database (with psycopg,
                                      the driver of trytond's PostgreSQL backend, or psycopg2)
  [--port P] modules plan|apply|verify|unmark DB DBFILE LIST [--login LOGIN]
                    [--server-pid PID] [--conf FILE] [--uri postgresql://USER@HOST:PORT/]
                                      activate Tryton modules on a live site (see below):
                                      plan: what activating LIST needs, checked against the
                                      installed trytond and the site (no change); apply: do it
                                      on the running trytond (JSON-RPC, console session);
                                      verify: states, and the models being served; unmark:
                                      clear `to activate` marks an interrupted apply left

Passwords are read from the first line of standard input, never from argv, and never printed.

Why `load` exists: trytond 8.2 answers `common.db.login` to a database it has not loaded yet
with `KeyError: 'res.user'`, and that attempt leaves an empty pool behind that stays broken
until trytond restarts. Only routes wrapped in `with_pool` load a database, and they check the
database list first, which trytond caches per request hostname for [session] timeout seconds,
so a database created after the list was cached is "not found". `load` therefore sends
`GET /avatar/<base64 db>/<uuid>` with a Host header never used before: the list is read afresh,
the pool is initialised, and the avatar lookup answers 404 (no such avatar).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import http.client
import json
import os
import sqlite3
import sys
import time
import urllib.error
import urllib.request
import uuid


class Failure(Exception):
    pass


def _read_password() -> str:
    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    if not password:
        raise Failure("no password on standard input")
    return password


def _url(args: argparse.Namespace, path: str) -> str:
    return f"http://{args.host}:{args.port}{path}"


def _open(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    """Return (status, body) for any HTTP answer; raise OSError when nothing answers."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (same)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _post_json(args, path: str, method: str, params: list, timeout: float = 30.0):
    body = json.dumps({"id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(  # noqa: S310 (http:// built by _url)
        _url(args, path),
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    return _open(request, timeout)


def cmd_ping(args) -> None:
    try:
        request = urllib.request.Request(_url(args, "/"))  # noqa: S310 (http:// built by _url)
        status, _ = _open(request, timeout=5)
    except (OSError, http.client.HTTPException) as error:
        raise Failure(f"nothing answers on {args.host}:{args.port}: {error}") from None
    print(f"HTTP {status} from {args.host}:{args.port}")


def cmd_version(args) -> None:
    try:
        status, body = _post_json(args, "/rpc/", "common.server.version", [], timeout=5)
    except (OSError, http.client.HTTPException) as error:
        raise Failure(f"trytond does not answer on {args.host}:{args.port}: {error}") from None
    try:
        series = json.loads(body)["result"]
    except (ValueError, KeyError, TypeError):
        raise Failure(
            f"{args.host}:{args.port} answered HTTP {status} but not as trytond"
        ) from None
    print(series)


def _check_db_file(path: str) -> None:
    if not os.path.isfile(path):
        raise Failure(f"database file {path} does not exist")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            row = connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name='ir_configuration'"
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise Failure(f"database file {path} is not readable: {error}") from None
    if not row:
        raise Failure(f"{path} is not a Tryton database")


def cmd_load(args) -> None:
    if args.dbfile:
        _check_db_file(args.dbfile)
    encoded = base64.urlsafe_b64encode(args.db.encode()).decode().rstrip("=")
    deadline = time.monotonic() + args.timeout
    last = "no answer"
    errors = 0
    while True:
        # A hostname trytond has never seen, so its cached database list is not used.
        host = f"managely-load-{uuid.uuid4().hex}"
        request = urllib.request.Request(  # noqa: S310 (http:// built by _url)
            _url(args, f"/avatar/{encoded}/{uuid.uuid4().hex}"),
            headers={"Host": f"{host}:{args.port}"},
        )
        started = time.monotonic()
        try:
            status, _ = _open(request, timeout=max(1.0, deadline - started))
        except (OSError, http.client.HTTPException) as error:
            last = f"no answer ({error})"
        else:
            if status in (200, 404):
                print(f"trytond has {args.db} loaded ({time.monotonic() - started:.2f} s)")
                return
            last = f"HTTP {status}"
            if status >= 500:
                errors += 1
                if errors >= 3:
                    raise Failure(
                        f"trytond fails to load database {args.db} ({last}); if something "
                        "tried to log in before it was loaded, restart trytond"
                    )
        if time.monotonic() >= deadline:
            raise Failure(f"trytond did not load database {args.db} in {args.timeout} s: {last}")
        time.sleep(0.5)


def cmd_login(args) -> None:
    password = _read_password()
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            status, body = _post_json(
                args,
                f"/{args.db}/rpc/",
                "common.db.login",
                [args.login, {"password": password}, "en"],
                timeout=max(1.0, deadline - time.monotonic()),
            )
        except (OSError, http.client.HTTPException) as error:
            status, body = 0, str(error).encode()
        if status == 200:
            try:
                answer = json.loads(body)
            except ValueError:
                raise Failure(f"login on {args.db}: trytond answered non-JSON") from None
            result = answer.get("result") if isinstance(answer, dict) else None
            if isinstance(result, list) and len(result) >= 2 and result[1]:
                print(f"login ok for {args.login} on {args.db} (user id {result[0]})")
                return
            error = answer.get("error") if isinstance(answer, dict) else answer
            if "res.user" in repr(error):
                raise Failure(
                    f"trytond holds an empty pool for {args.db} (a login reached it before it "
                    "was loaded): restart trytond"
                )
            raise Failure(f"login on {args.db} failed: trytond error {error!r}")
        if status == 401 or status == 403:
            raise Failure(f"login refused for {args.login} on {args.db} (wrong login or password)")
        if status == 404:
            raise Failure(f"trytond does not know the database {args.db}")
        if time.monotonic() >= deadline:
            what = f"HTTP {status}" if status else body.decode(errors="replace")
            raise Failure(f"login on {args.db} did not succeed in {args.timeout} s: {what}")
        # 429 (too many attempts), 5xx, or no answer yet: try again shortly.
        time.sleep(1.0)


def _store_password(cursor, mark: str, args, password_hash: str, now) -> int:
    """Store the hash for args.login (renaming args.rename_from first when asked) and drop
    what trytond drops when a password is written; return the user id. `mark` is the driver's
    parameter placeholder ("?" for sqlite3, "%s" for psycopg)."""

    def execute(sql: str, params: tuple) -> None:
        cursor.execute(sql.replace("?", mark), params)

    # PostgreSQL: lock the row against a concurrent write (SQLite: BEGIN IMMEDIATE did).
    if mark == "%s":
        select = "SELECT id FROM res_user WHERE login = ? AND id != 0 FOR UPDATE"
    else:
        select = "SELECT id FROM res_user WHERE login = ? AND id != 0"
    execute(select, (args.login,))
    row = cursor.fetchone()
    if row is None and args.rename_from:
        execute(select, (args.rename_from,))
        row = cursor.fetchone()
        if row is not None:
            execute(
                "UPDATE res_user SET login = ?, write_date = ? WHERE id = ?",
                (args.login, now, row[0]),
            )
            print(f"renamed login {args.rename_from} to {args.login}")
    if row is None:
        raise Failure(f"no user with login {args.login} in {os.path.basename(args.dbfile)}")
    user_id = row[0]
    execute(
        "UPDATE res_user SET password_hash = ?, password_reset = NULL, "
        "password_reset_expire = NULL, write_date = ? WHERE id = ?",
        (password_hash, now, user_id),
    )
    # What trytond does when a password is written: drop the user's sessions and devices.
    execute("DELETE FROM ir_session WHERE create_uid = ?", (user_id,))
    execute("DELETE FROM res_user_device WHERE login = ?", (args.login,))
    # A console reset also lifts the failed-attempt throttle for this login.
    execute("DELETE FROM res_user_login_attempt WHERE login = ?", (args.login,))
    return user_id


def _pg_connect(uri: str, dbname: str):
    """A connection to database `dbname` of the cluster `uri` (postgresql://USER@HOST:PORT/)."""
    try:
        import psycopg as driver
    except ImportError:
        try:
            import psycopg2 as driver
        except ImportError:
            raise Failure("this interpreter has neither psycopg nor psycopg2") from None
    if not uri.startswith("postgresql://") or not uri.endswith("/"):
        raise Failure("--uri must look like postgresql://USER@HOST:PORT/")
    try:
        return driver.connect(uri + dbname, connect_timeout=10)
    except driver.Error as error:
        detail = " ".join(str(error).split())
        raise Failure(f"cannot connect to database {dbname}: {detail}") from None


def cmd_set_password(args) -> None:
    password = _read_password()
    # trytond's own hashing (pwdlib argon2, bcrypt when available): res.user.hash_password.
    try:
        from trytond.res.user import User
    except ImportError as error:
        raise Failure(f"this interpreter has no trytond: {error}") from None
    password_hash = User.hash_password(password)
    # trytond stores naive UTC timestamps.
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)  # noqa: UP017
    if args.uri:
        # args.dbfile is the database name.
        connection = _pg_connect(args.uri, args.dbfile)
        try:
            with connection.cursor() as cursor:
                user_id = _store_password(cursor, "%s", args, password_hash, now)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()
        print(f"password set for {args.login} (user id {user_id})")
        return
    if not os.path.isfile(args.dbfile):
        raise Failure(f"database file {args.dbfile} does not exist")
    connection = sqlite3.connect(args.dbfile, timeout=30, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        # As text, as trytond's SQLite backend does: 'YYYY-MM-DD HH:MM:SS.ffffff'.
        user_id = _store_password(connection.cursor(), "?", args, password_hash, str(now))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()
    print(f"password set for {args.login} (user id {user_id})")


# --- modules: activate Tryton modules on one site, live -------------------------------------
#
# Why through JSON-RPC and not `trytond-admin -u`: trytond-admin updates the database from its
# own process, and the serving trytond keeps its pool (the models of the modules it loaded)
# until a cache sync notices the new module set. With SQLite that sync runs at most every
# `[cache] clean_timeout` (300 s), and every commit that resets a cache postpones it, so on a
# busy server it may never come before a restart. The `ir.module.activate_upgrade` wizard,
# called on the serving trytond, runs `Pool.init(update=…)` in that process: the database is
# updated and the pool of that one database rebuilt within the request, so the next request
# sees the new models; the other databases' pools are untouched. (Pool.init holds the pool
# lock of the process while it runs: other sites' requests wait those seconds.)
#
# Authentication: a console session, as set-password is a console password: a random key
# written to the site's ir_session for its admin user (backdated so that it lapses within the
# hour even if this process is killed), sent as `Authorization: Session …`, deleted at the
# end. No password is needed, so a rollback needs no secret, and a customer who changed the
# admin password in Tryton does not break it.

MODULE_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")
MODULE_PENDING = ("to activate", "to upgrade", "to remove")


def _module_list(value: str) -> list[str]:
    names = value.split(",") if value else []
    for name in names:
        if not (0 < len(name) <= 64 and name[0].isalpha() and set(name) <= MODULE_NAME_CHARS):
            raise Failure(f"invalid module name {name[:64]!r}")
    if not names:
        raise Failure("no module given")
    return sorted(set(names))


class _SiteDB:
    """The site's database, for the few direct statements of `modules`: a SQLite file, or with
    --uri a PostgreSQL database (args.dbfile is then its name). Statements use `?`."""

    def __init__(self, args, readonly: bool = False) -> None:
        self.pg = bool(args.uri)
        if self.pg:
            self.connection = _pg_connect(args.uri, args.dbfile)
            self.connection.autocommit = True
        else:
            _check_db_file(args.dbfile)
            target = f"file:{args.dbfile}?mode=ro" if readonly else f"file:{args.dbfile}"
            self.connection = sqlite3.connect(target, uri=True, timeout=30, isolation_level=None)

    def __enter__(self) -> _SiteDB:
        return self

    def __exit__(self, *exc) -> None:
        self.connection.close()

    def rows(self, sql: str, params=()) -> list[tuple]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql.replace("?", "%s") if self.pg else sql, params)
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()

    def timestamp(self, value: dt.datetime):
        # trytond's SQLite backend stores text 'YYYY-MM-DD HH:MM:SS.ffffff'.
        return value if self.pg else value.isoformat(" ")


def _site_module_states(args) -> dict[str, str]:
    with _SiteDB(args, readonly=True) as db:
        return dict(db.rows("SELECT name, state FROM ir_module"))


def _process_started(pid: int) -> float:
    """When process pid started (epoch seconds), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    with open("/proc/stat") as stat:
        boot = next(int(line.split()[1]) for line in stat if line.startswith("btime "))
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _installed_closure(names: list[str], server_pid: int | None) -> set[str]:
    """names and their dependencies (tryton.cfg), all installed in this interpreter's trytond.

    With server_pid, a module whose files changed after that trytond started is refused: the
    running process registered the module classes it found at start, and it would skip (or run
    stale code for) anything installed since.
    """
    try:
        from trytond.modules import get_module_info, get_modules
    except ImportError as error:
        raise Failure(f"this interpreter has no trytond: {error}") from None
    available = get_modules()
    missing = [name for name in names if name not in available]
    if missing:
        raise Failure(f"not installed in the server's trytond: {', '.join(missing)}")
    started = _process_started(server_pid) if server_pid else None
    closure: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        if name not in available:
            raise Failure(f"module {name}, a dependency, is not installed in the server's trytond")
        info = get_module_info(name)
        if started is not None and name not in ("ir", "res"):
            changed = os.stat(os.path.join(info["directory"], "tryton.cfg")).st_ctime
            if changed > started:
                raise Failure(
                    f"module {name} was installed or changed after trytond (pid {server_pid}) "
                    "started: restart trytond first (bootstrap_server.sh --stop, then "
                    "bootstrap_server.sh)"
                )
        closure.add(name)
        todo.extend(info.get("depends", []))
    return closure


def _plan(args) -> dict[str, list[str]]:
    """What activating args.modules on the site needs; nothing is changed."""
    names = _module_list(args.modules)
    states = _site_module_states(args)
    closure = _installed_closure(names, args.server_pid)
    todo = sorted(n for n in closure if states.get(n) != "activated")
    pending = {n: s for n, s in states.items() if s in MODULE_PENDING}
    # The wizard applies every pending change: one a user left marked in Tryton is not ours
    # to apply. (Our own `to activate` marks, from an interrupted run, are.)
    others = sorted(set(pending) - set(todo))
    if others:
        raise Failure(
            "the site has module changes pending in Tryton ("
            + ", ".join(f"{n}: {pending[n]}" for n in others)
            + "): apply or cancel them in Tryton first"
        )
    return {
        "activated": sorted(n for n, s in states.items() if s == "activated"),
        "todo": todo,
        "unlisted": sorted(n for n in closure if n not in states),
    }


class _Console:
    """A short-lived session of the site's admin user, for JSON-RPC calls to the site."""

    def __init__(self, args) -> None:
        self.args = args
        self.key = ""
        self.user_id = 0

    def __enter__(self) -> _Console:
        import configparser
        import ipaddress
        import secrets

        try:
            address = str(ipaddress.ip_address(self.args.host))
        except ValueError:
            raise Failure("modules needs --host as an IP address (the session's)") from None
        max_age = 60 * 60 * 24 * 30  # trytond's default [session] max_age
        if self.args.conf:
            config = configparser.ConfigParser(interpolation=None)
            config.read(self.args.conf)
            max_age = config.getint("session", "max_age", fallback=max_age)
        # Session.check keeps a key while |create_date - now| < max_age: backdate it so it
        # lapses within min(1 h, max_age / 2) even if nothing deletes it.
        created = dt.datetime.now() - dt.timedelta(seconds=max_age - min(3600, max_age // 2))
        self.key = secrets.token_hex(32)
        with _SiteDB(self.args) as db:
            rows = db.rows(
                "SELECT id FROM res_user WHERE login = ? AND id != 0 AND active",
                (self.args.login,),
            )
            if not rows:
                raise Failure(f"no active user with login {self.args.login} on {self.args.db}")
            self.user_id = rows[0][0]
            db.rows(
                "INSERT INTO ir_session (key, ip_address, create_uid, create_date) "
                "VALUES (?, ?, ?, ?)",
                (self.key, address, self.user_id, db.timestamp(created)),
            )
        return self

    def __exit__(self, *exc) -> None:
        try:
            with _SiteDB(self.args) as db:
                db.rows("DELETE FROM ir_session WHERE key = ?", (self.key,))
        except Exception as error:  # the session lapses on its own; report, do not mask
            print(f"could not delete the console session (it lapses within the hour): {error}")

    def call(self, method: str, *params, timeout: float = 60.0):
        token = base64.b64encode(f"{self.args.login}:{self.user_id}:{self.key}".encode()).decode()
        body = json.dumps({"id": 1, "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(  # noqa: S310 (http:// built by _url)
            _url(self.args, f"/{self.args.db}/rpc/"),
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Session {token}"},
        )
        try:
            status, answer = _open(request, timeout)
        except (OSError, http.client.HTTPException) as error:
            raise Failure(f"{method} on {self.args.db}: no answer from trytond ({error})") from None
        if status in (401, 403):
            raise Failure(f"{method} on {self.args.db}: trytond refused the console session")
        try:
            answer = json.loads(answer)
        except ValueError:
            raise Failure(f"{method} on {self.args.db}: HTTP {status}, not JSON-RPC") from None
        if status != 200 or not isinstance(answer, dict) or "error" in answer:
            error = answer.get("error") if isinstance(answer, dict) else answer
            if isinstance(error, list) and error and error[0] == "UserError":
                message, description = (list(error[1]) + ["", ""])[:2]
                error = f"{message} {description}".strip()
            elif isinstance(error, list) and error:
                error = error[0]
            raise Failure(f"{method} on {self.args.db} failed: {error}")
        return answer.get("result")

    def states(self) -> dict[str, str]:
        rows = self.call("model.ir.module.search_read", [], 0, None, None, ["name", "state"], {})
        return {row["name"]: row["state"] for row in rows}


def _unmark(args, names: list[str]) -> list[str]:
    """Turn `to activate` back into `not activated` for names (Tryton's Cancel button)."""
    where = f"state = 'to activate' AND name IN ({','.join('?' * len(names))})"
    with _SiteDB(args) as db:
        unmarked = [name for (name,) in db.rows(f"SELECT name FROM ir_module WHERE {where}", names)]  # noqa: S608
        if unmarked:
            db.rows(f"UPDATE ir_module SET state = 'not activated' WHERE {where}", names)  # noqa: S608
    return sorted(unmarked)


def _print_list(key: str, names) -> None:
    print(f"{key}={','.join(sorted(names))}")


def _modules_apply(args) -> None:
    todo = _plan(args)["todo"]
    if not todo:
        print("nothing to change")
        return
    with _Console(args) as console:
        try:
            rows = console.call(
                "model.ir.module.search_read", [["name", "in", todo]], 0, None, None,
                ["name"], {},
            )  # fmt: skip
            ids = {row["name"]: row["id"] for row in rows}
            missing = sorted(set(todo) - set(ids))
            if missing:
                raise Failure(f"{args.db} does not list the modules {', '.join(missing)}")
            # What the client's Activate button does: `to activate` (with the dependencies).
            console.call("model.ir.module.activate", [ids[name] for name in todo], {})
            marked = sorted(n for n, s in console.states().items() if s in MODULE_PENDING)
            print(f"marked to activate: {', '.join(marked)}")
            started = time.monotonic()
            session, _, _ = console.call("wizard.ir.module.activate_upgrade.create", {})
            try:
                console.call(
                    "wizard.ir.module.activate_upgrade.execute", session, {}, "upgrade", {},
                    timeout=args.timeout,
                )  # fmt: skip
            finally:
                with contextlib.suppress(Failure):
                    console.call("wizard.ir.module.activate_upgrade.delete", session, {})
            print(f"trytond activated them in {time.monotonic() - started:.1f} s")
        except BaseException:
            # Nothing left marked for a later activation to apply by surprise.
            unmarked = _unmark(args, todo)
            if unmarked:
                print(f"unmarked {', '.join(unmarked)}")
            raise


def _modules_verify(args) -> None:
    names = _module_list(args.modules)
    with _Console(args) as console:
        states = console.states()
        wrong = sorted(n for n in names if states.get(n) != "activated")
        if wrong:
            raise Failure(
                "not activated: " + ", ".join(f"{n} ({states.get(n, 'unknown')})" for n in wrong)
            )
        # ir.model says which models each module defines; system.listMethods lists the models
        # the serving pool has (with at least one RPC method, hence "one served is proof").
        rows = console.call(
            "model.ir.model.search_read", [["module", "in", names]], 0, None, None,
            ["name", "module"], {},
        )  # fmt: skip
        served = {
            method.split(".", 1)[1].rsplit(".", 1)[0]
            for method in console.call("system.listMethods")
            if method.startswith("model.")
        }
        for name in names:
            models = sorted(row["name"] for row in rows if row["module"] == name)
            seen = [model for model in models if model in served]
            if models and not seen:
                raise Failure(
                    f"{name} is activated in the database but the running trytond does not "
                    f"serve its models ({', '.join(models[:5])}): restart trytond"
                )
            print(f"{name}: activated, {len(seen)} of its {len(models)} models served")
    _print_list("activated", (n for n, s in states.items() if s == "activated"))


def cmd_modules(args) -> None:
    if args.action == "plan":
        for key, names in _plan(args).items():
            _print_list(key, names)
    elif args.action == "apply":
        _modules_apply(args)
    elif args.action == "verify":
        _modules_verify(args)
    else:  # unmark: what an interrupted apply left marked
        unmarked = _unmark(args, _module_list(args.modules))
        print(f"unmarked {', '.join(unmarked)}" if unmarked else "nothing left marked")
        states = _site_module_states(args)
        _print_list("activated", (n for n, s in states.items() if s == "activated"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ping").set_defaults(func=cmd_ping)
    sub.add_parser("version").set_defaults(func=cmd_version)
    load = sub.add_parser("load")
    load.add_argument("db")
    load.add_argument("--dbfile", help="check this file is a Tryton database first")
    load.add_argument("--timeout", type=float, default=30.0)
    load.set_defaults(func=cmd_load)
    login = sub.add_parser("login")
    login.add_argument("db")
    login.add_argument("login")
    login.add_argument("--timeout", type=float, default=30.0)
    login.set_defaults(func=cmd_login)
    set_password = sub.add_parser("set-password")
    set_password.add_argument(
        "--uri", default=None, help="a PostgreSQL cluster: DBFILE is then a database name"
    )
    set_password.add_argument("dbfile")
    set_password.add_argument("login")
    set_password.add_argument("--rename-from", default=None)
    set_password.set_defaults(func=cmd_set_password)
    modules = sub.add_parser("modules")
    modules.add_argument("action", choices=["plan", "apply", "verify", "unmark"])
    modules.add_argument("db")
    modules.add_argument("dbfile")
    modules.add_argument("modules", help="comma-separated module names")
    modules.add_argument("--login", default="admin", help="the site's admin login")
    modules.add_argument("--server-pid", type=int, default=None, help="the running trytond")
    modules.add_argument("--conf", default=None, help="trytond.conf ([session] max_age)")
    modules.add_argument(
        "--uri", default=None, help="a PostgreSQL cluster: DBFILE is then a database name"
    )
    modules.add_argument("--timeout", type=float, default=600.0)
    modules.set_defaults(func=cmd_modules)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except Failure as failure:
        print(f"::error {failure}", flush=True)
        return 1
    except sqlite3.Error as error:
        print(f"::error database error: {error}", flush=True)
        return 1
    except Exception as error:  # the caller needs one readable line, not a traceback
        print(f"::error {args.command}: {type(error).__name__}: {error}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
