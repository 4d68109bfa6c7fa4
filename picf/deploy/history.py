"""Deployment history in SQLite under the XDG state dir: deployments, per-node results, events.

Credentials never go in: events are recorded after redaction, and manifests are stored as written (with
`((placeholders))`, never the values).
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from picf.errors import PicfError

SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  manifest_hash TEXT NOT NULL,
  manifest_text TEXT NOT NULL,
  inventory TEXT NOT NULL,
  releases TEXT NOT NULL,
  user TEXT NOT NULL,
  started REAL NOT NULL,
  finished REAL,
  result TEXT NOT NULL DEFAULT 'running',
  message TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS node_results (
  deployment INTEGER NOT NULL REFERENCES deployments(id),
  node TEXT NOT NULL,
  result TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS events (
  deployment INTEGER NOT NULL REFERENCES deployments(id),
  at REAL NOT NULL,
  node TEXT,
  kind TEXT NOT NULL,
  data TEXT NOT NULL
);
"""


def state_dir() -> Path:
    return Path(os.environ.get("PICF_STATE_DIR") or platformdirs.user_state_dir("picf"))


@dataclass
class Deployment:
    id: int
    name: str
    manifest_hash: str
    manifest_text: str
    inventory: str
    releases: list[dict[str, Any]]
    user: str
    started: float
    finished: float | None
    result: str
    message: str


class History:
    """The history database (created on first use)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "history.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise PicfError(f"{self.path}: the deployment history cannot be read ({exc}); move it aside and "
                            "picf starts a new one (the nodes keep what they run)") from None  # fmt: skip
        os.chmod(self.path, 0o600)

    def start(
        self, name: str, manifest_hash: str, manifest_text: str, inventory: str, releases: list[dict[str, Any]]
    ) -> int:
        with self.db:
            cur = self.db.execute(
                "INSERT INTO deployments (name, manifest_hash, manifest_text, inventory, releases, user, started) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, manifest_hash, manifest_text, inventory, json.dumps(releases), getpass.getuser(), time.time()),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def event(self, deployment: int, kind: str, node: str | None, data: dict[str, Any]) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?)", (deployment, time.time(), node, kind, json.dumps(data))
            )

    def node_result(self, deployment: int, node: str, result: str, message: str = "") -> None:
        with self.db:
            self.db.execute("INSERT INTO node_results VALUES (?, ?, ?, ?)", (deployment, node, result, message))

    def finish(self, deployment: int, result: str, message: str = "") -> None:
        with self.db:
            self.db.execute("UPDATE deployments SET finished = ?, result = ?, message = ? WHERE id = ?",
                            (time.time(), result, message, deployment))  # fmt: skip

    def deployments(self, limit: int = 20) -> list[Deployment]:
        rows = self.db.execute(
            "SELECT id, name, manifest_hash, manifest_text, inventory, releases, user, started, finished, result, "
            "message FROM deployments ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            Deployment(
                row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7], row[8], row[9], row[10]
            )
            for row in rows
        ]

    def last_successful(self, name: str, before: int | None = None) -> Deployment | None:
        for deployment in self.deployments(limit=1000):
            if (
                deployment.name == name
                and deployment.result == "succeeded"
                and (before is None or deployment.id < before)
            ):
                return deployment
        return None

    def dump_text(self) -> str:
        """Everything in the database as text (tests grep it for secrets)."""
        return "\n".join(" ".join(map(str, row)) for row in self.db.iterdump())
