"""The results store (SQLite, stdlib `sqlite3`) and the import of result JSON files.

    store = ResultStore()                       # ${XDG_DATA_HOME:-~/.local/share}/edgewise/results.sqlite
    rid = store.save(result)
    for entry in store.list(): print(entry.id, entry.device, entry.p50_ms)
    result = store.load(rid)                    # the whole BenchResult: facts, trace, raw samples

Each row keeps the listing columns (device, model, hash, backend, p50, energy, flags) and the full
result document as JSON, so nothing measured is lost and the table stays queryable with any
SQLite client. `import_json` reads the files `bench --json` writes, including schema 1 (before
the deployment zip was called the payload and memory had its own record).
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from edgewise.fileio import write_json_atomic
from edgewise.runtime.records import Record, RecordError

from .bench import SCHEMA, BenchResult

DB_SCHEMA = 1
_TABLE = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    device TEXT NOT NULL,
    board TEXT,
    model TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    backend TEXT,
    p50_ms REAL,
    n INTEGER NOT NULL,
    energy_mj REAL,
    power_source TEXT,
    flags TEXT NOT NULL,
    partial INTEGER NOT NULL,
    document TEXT NOT NULL
)"""


def default_store_path() -> Path:
    """`$EDGEWISE_RESULTS`, else `${XDG_DATA_HOME:-~/.local/share}/edgewise/results.sqlite`."""
    if os.environ.get("EDGEWISE_RESULTS"):
        return Path(os.environ["EDGEWISE_RESULTS"])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "edgewise" / "results.sqlite"


@dataclass(frozen=True)
class StoredResult(Record):
    """One line of `ResultStore.list()`: enough to pick a result without loading its samples."""

    id: int
    started_at: str
    device: str
    board: Optional[str]
    model: str
    backend: str
    p50_ms: Optional[float]
    n: int
    energy_mj: Optional[float]
    power_source: Optional[str]
    flags: str
    partial: bool


def migrate(doc: Dict[str, Any]) -> Dict[str, Any]:
    """A result document of an older schema in today's shape (schema 1 -> 2)."""
    doc = dict(doc)
    if doc.get("schema", 1) == 1:
        dep = doc.get("deployment")
        if isinstance(dep, dict):
            doc["deployment"] = {k.replace("bundle_", "payload_"): v for k, v in dep.items()}
        doc["memory"] = {"rss_before_load_bytes": doc.pop("rss_before_load_bytes", None),
                         "rss_after_load_bytes": doc.pop("rss_after_load_bytes", None),
                         "peak_rss_bytes": doc.pop("peak_rss_bytes", None),
                         "model_file_bytes": doc.get("model_bytes")}
        doc["schema"] = SCHEMA
    else:
        doc.pop("peak_rss_bytes", None)  # derived, written for readers only
    return doc


def load_result(path: Union[str, Path]) -> BenchResult:
    """A result JSON file (`bench --json`), any schema up to today's."""
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except ValueError as e:
            raise ValueError(f"{path}: not a benchmark result (invalid JSON: {e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a benchmark result (a JSON {type(data).__name__}, not an object)")
    try:
        return BenchResult.from_dict(migrate(data))
    except (KeyError, TypeError, RecordError) as e:
        raise ValueError(f"{path}: not a benchmark result ({e})") from None


def save_result(result: BenchResult, path: Union[str, Path]) -> Path:
    write_json_atomic(path, result.to_dict())
    return Path(path)


class ResultStore:
    """Benchmark results in one SQLite file (created on first save, with its folder)."""

    def __init__(self, path: Union[str, Path, None] = None):
        self.path = Path(path) if path is not None else default_store_path()

    def _connect(self, create: bool) -> Optional[sqlite3.Connection]:
        if not create and not self.path.exists():
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(str(self.path), timeout=30)
            db.execute(_TABLE)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                db.execute(f"PRAGMA user_version = {DB_SCHEMA}")
            elif version > DB_SCHEMA:
                raise ValueError(f"{self.path}: results store version {version} is newer than this edgewise's "
                                 f"({DB_SCHEMA})")
        except sqlite3.DatabaseError as e:
            raise ValueError(f"{self.path}: not an edgewise results store ({e})") from None
        return db

    def save(self, result: BenchResult) -> int:
        """Store `result`; its id."""
        e = result.energy
        row = (result.started_at, result.device, result.device_facts.board, os.path.basename(result.model),
               result.model_sha256, str(result.backend.get("name", "")), result.latency_ms.p50, result.latency_ms.n,
               e.energy_mj_per_inference if e else None, e.source if e else None,
               ",".join(f.code for f in result.flags), int(result.partial), json.dumps(result.to_dict()))
        db = self._connect(create=True)
        with db:
            cur = db.execute("INSERT INTO results (started_at, device, board, model, model_sha256, backend, p50_ms, "
                             "n, energy_mj, power_source, flags, partial, document) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        db.close()
        return int(cur.lastrowid)

    def import_json(self, path: Union[str, Path]) -> int:
        return self.save(load_result(path))

    def list(self, device: Optional[str] = None, model: Optional[str] = None) -> List[StoredResult]:
        """Every stored result in the order saved; optionally only one device's or one model's."""
        db = self._connect(create=False)
        if db is None:
            return []
        where, args = [], []
        if device:
            where.append("device = ?")
            args.append(device)
        if model:
            where.append("model = ?")
            args.append(model)
        sql = ("SELECT id, started_at, device, board, model, backend, p50_ms, n, energy_mj, power_source, flags, "
               "partial FROM results" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id")
        rows = db.execute(sql, args).fetchall()
        db.close()
        return [StoredResult(*r[:-1], bool(r[-1])) for r in rows]

    def load(self, ref: Union[int, str]) -> BenchResult:
        """A result by id (`results list`), "last" (the latest saved), or the path of a result JSON file."""
        if isinstance(ref, str) and not ref.isdigit() and ref != "last":
            if os.path.isfile(ref):
                return load_result(ref)
            raise FileNotFoundError(f"no result {ref!r}: give an id from `edgewise results list`, 'last', or a "
                                    f"result JSON file")
        db = self._connect(create=False)
        row = None
        if db is not None:
            if ref == "last":
                row = db.execute("SELECT document FROM results ORDER BY id DESC LIMIT 1").fetchone()
            else:
                row = db.execute("SELECT document FROM results WHERE id = ?", (int(ref),)).fetchone()
            db.close()
        if row is None:
            raise FileNotFoundError(f"no result {ref} in {self.path}")
        return BenchResult.from_dict(migrate(json.loads(row[0])))
