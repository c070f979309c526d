"""The ingest floor: what storing a signed webhook costs with no chatops logic at all.

The same HTTP server as `chatops serve` (waitress, as many threads), the same HMAC-SHA256
signature check, `json.loads`, and one INSERT and a commit per request into a SQLite file in
WAL mode with synchronous=NORMAL, as chatops opens it. `bench/ingest_bench.py` runs it beside
`chatops serve` so every ingest figure has this floor, measured in the same run, next to it.

    python -m bench.ingest_floor PORT DB_PATH SECRET THREADS
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import sys
import threading

from waitress import serve

ACCEPTED = b'{"ok":true}\n'


def make_app(db_path: str, secret: str):
    """A WSGI app answering every signed POST with 202 once its row is committed."""
    conn = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, direction TEXT NOT NULL, "
                 "source TEXT NOT NULL, external_id TEXT NOT NULL, text TEXT NOT NULL, UNIQUE (source, external_id))")
    key = secret.encode()
    write = threading.Lock()  # one connection, as chatops's SQLite pool of one

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(environ.get("HTTP_X_CHATOPS_SIGNATURE", ""), expected):
            start_response("401 Unauthorized", [("Content-Length", "0")])
            return [b""]
        message = json.loads(body)
        with write:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR IGNORE INTO messages (direction, source, external_id, text) VALUES (?, ?, ?, ?)",
                         ("inbound", message["source"], message["external_id"], message["text"]))
            conn.execute("COMMIT")
        start_response("202 Accepted", [("Content-Type", "application/json"), ("Content-Length", str(len(ACCEPTED)))])
        return [ACCEPTED]

    return app


def main(argv: list[str]) -> None:
    """Serve the floor app until interrupted."""
    port, db_path, secret, threads = int(argv[0]), argv[1], argv[2], int(argv[3])

    def health_or_app(app):
        def wrapped(environ, start_response):
            if environ.get("PATH_INFO") == "/healthz":
                start_response("200 OK", [("Content-Length", "2")])
                return [b"ok"]
            return app(environ, start_response)
        return wrapped

    try:
        serve(health_or_app(make_app(db_path, secret)), host="127.0.0.1", port=port, threads=threads,
              ident="floor", _quiet=True)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
