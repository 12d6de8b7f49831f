#!/usr/bin/env python3
"""Talk to the tenant server's trytond for the ops scripts (stdlib only, except set-password).

Subcommands (output follows the ops protocol: log lines, `::error <reason>` before exit 1):

  [--host H] --port P ping            exit 0 when anything answers HTTP on H:P
  [--host H] --port P version         print the trytond series (common.server.version)
  [--host H] --port P load DB         make trytond load database DB (see below)
  [--host H] --port P login DB LOGIN  JSON-RPC common.db.login; password on stdin
  set-password DBFILE LOGIN [--rename-from OLD]
                                      store the hash of the password read from stdin,
                                      computed by trytond's own res.user.hash_password

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


def cmd_set_password(args) -> None:
    password = _read_password()
    # trytond's own hashing (pwdlib argon2, bcrypt when available): res.user.hash_password.
    try:
        from trytond.res.user import User
    except ImportError as error:
        raise Failure(f"this interpreter has no trytond: {error}") from None
    password_hash = User.hash_password(password)
    if not os.path.isfile(args.dbfile):
        raise Failure(f"database file {args.dbfile} does not exist")
    # trytond stores naive UTC timestamps as text: 'YYYY-MM-DD HH:MM:SS.ffffff'.
    now = str(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))  # noqa: UP017
    connection = sqlite3.connect(args.dbfile, timeout=30, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        row = connection.execute(
            "SELECT id FROM res_user WHERE login = ? AND id != 0", (args.login,)
        ).fetchone()
        if row is None and args.rename_from:
            row = connection.execute(
                "SELECT id FROM res_user WHERE login = ? AND id != 0", (args.rename_from,)
            ).fetchone()
            if row is not None:
                connection.execute(
                    "UPDATE res_user SET login = ?, write_date = ? WHERE id = ?",
                    (args.login, now, row[0]),
                )
                print(f"renamed login {args.rename_from} to {args.login}")
        if row is None:
            raise Failure(f"no user with login {args.login} in {os.path.basename(args.dbfile)}")
        user_id = row[0]
        connection.execute(
            "UPDATE res_user SET password_hash = ?, password_reset = NULL, "
            "password_reset_expire = NULL, write_date = ? WHERE id = ?",
            (password_hash, now, user_id),
        )
        # What trytond does when a password is written: drop the user's sessions and devices.
        connection.execute("DELETE FROM ir_session WHERE create_uid = ?", (user_id,))
        connection.execute("DELETE FROM res_user_device WHERE login = ?", (args.login,))
        # A console reset also lifts the failed-attempt throttle for this login.
        connection.execute("DELETE FROM res_user_login_attempt WHERE login = ?", (args.login,))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()
    print(f"password set for {args.login} (user id {user_id})")


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
    set_password.add_argument("dbfile")
    set_password.add_argument("login")
    set_password.add_argument("--rename-from", default=None)
    set_password.set_defaults(func=cmd_set_password)
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
