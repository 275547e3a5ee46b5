"""Resumable per-instance predictions: rows written in chunks to parquet, never duplicated.

One ``PredictionLog`` holds the rows of one model under one set of evaluation settings, in a
directory of chunk files ``part-00000.parquet``, ``part-00001.parquet``, ... Each chunk is written to
a temporary file and renamed into place, so a chunk is either complete or absent. A row's key is
(model key, eval set, item hash, settings hash); ``append`` refuses a key that is already stored, and
the evaluation loop skips the keys already stored, so a killed evaluation resumes where it stopped
and a re-run adds nothing. The log is keyed by (model, settings) only, not by the list of eval sets,
so a study that asks for more (or fewer) sets of an already evaluated model reuses every stored row.
(The authors' ``pred.py`` appended to a JSON-lines file, so a re-run duplicated every line.)

The settings hash covers everything that changes a row: resolved dtype, generation budgets, the
letter-logit position, the prompt format and the scorer version. Batch size and the
log-likelihood strategy are recorded per row but are not part of the key (they change numbers only
by float rounding, and an out-of-memory back-off must not invalidate finished rows).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
from filelock import FileLock

from ..files import write_json_atomic, write_parquet_atomic

KEY_COLUMNS = ["model_key", "eval_set", "item_hash", "settings_hash"]


def settings_hash(settings: dict) -> str:
    blob = json.dumps(settings, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class PredictionLog:
    def __init__(self, directory: str | Path, model_key: str, settings: dict):
        self.dir = Path(directory)
        self.model_key = model_key
        self.settings = settings
        self.settings_hash = settings_hash(settings)
        self.dir.mkdir(parents=True, exist_ok=True)
        info = self.dir / "log.json"
        meta = {"model_key": model_key, "settings": settings, "settings_hash": self.settings_hash}
        if info.exists():
            old = json.loads(info.read_text())
            if old.get("model_key") != model_key or old.get("settings_hash") != self.settings_hash:
                raise ValueError(f"{info}: this prediction log belongs to model {old.get('model_key')!r} with "
                                 f"settings {old.get('settings_hash')!r}, not {model_key!r} / {self.settings_hash!r}")
        else:
            write_json_atomic(info, meta)

    def lock(self) -> FileLock:
        """Held while evaluating, so two processes never compute the same rows at once."""
        return FileLock(str(self.dir) + ".lock")

    def parts(self) -> list[Path]:
        return sorted(self.dir.glob("part-*.parquet"))

    def read(self) -> pd.DataFrame:
        parts = self.parts()
        if not parts:
            return pd.DataFrame(columns=KEY_COLUMNS)
        df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        dup = df.duplicated(KEY_COLUMNS)
        if dup.any():
            first = df[dup].iloc[0]
            raise ValueError(f"{self.dir}: duplicated prediction rows, e.g. {first['eval_set']}/{first['item_hash']}")
        return df

    def done_keys(self) -> set[tuple[str, str]]:
        """(eval set, item hash) of every stored row."""
        keys: set[tuple[str, str]] = set()
        for p in self.parts():
            df = pd.read_parquet(p, columns=["eval_set", "item_hash"])
            keys.update(zip(df["eval_set"], df["item_hash"]))
        return keys

    def append(self, rows: pd.DataFrame) -> Path | None:
        """Write ``rows`` as the next chunk (atomic); keys must be new."""
        if rows.empty:
            return None
        rows = rows.assign(model_key=self.model_key, settings_hash=self.settings_hash)
        keys = list(zip(rows["eval_set"], rows["item_hash"]))
        if len(set(keys)) != len(keys):
            raise ValueError("append: the chunk repeats an (eval set, item hash) key")
        clash = self.done_keys().intersection(keys)
        if clash:
            raise ValueError(f"append: {len(clash)} rows are already stored in {self.dir}, e.g. {sorted(clash)[0]}")
        parts = self.parts()
        n = int(parts[-1].stem.split("-")[1]) + 1 if parts else 0
        path = self.dir / f"part-{n:05d}.parquet"
        write_parquet_atomic(rows, path)
        return path


