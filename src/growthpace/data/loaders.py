"""Readers for DoIT data: JSON-lines, JSON arrays, parquet, Hugging Face datasets, and DoIT's layout.

Every reader validates each record (``schema.validate_record``) and adds provenance fields:

    _file   the file (or ``save_to_disk`` directory) it came from
    _line   1-based text line where the record starts (JSON / JSON-lines); None for columnar formats
    _row    0-based position of the record in its file (array index, parquet row, dataset row)
    _hash   ``schema.record_hash``: the same record has the same hash whatever format it came from

A bad record stops the load with ``where: field: what is wrong``, where ``where`` is ``file:line`` for
JSON-lines, ``file:line (item i)`` for a JSON array and ``file (row i)`` for parquet and datasets.

DoIT's layout (the Hugging Face dataset ``ChiyuSONG/dynamics-of-instruction-tuning``)::

    curated/{1000,full,valid,test}/{ability}_{split}.json    one JSON object per line
    curated/test/ceval_{subject}.json                        out-of-domain, type ceval_{subject}_fshot
    synthetic/40960/*.json                                   teacher-model general instructions
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path

from .schema import ABILITIES, RecordError, record_hash, validate_record

log = logging.getLogger(__name__)

PROVENANCE = ("_file", "_line", "_row", "_hash")
SPLITS = ("1000", "full", "valid", "test")  # DoIT's curated/ sub-directories
SYNTHETIC_DIR = Path("synthetic") / "40960"
_WS = re.compile(r"[ \t\n\r]*")


def _record(obj: object, where: str, path: Path, line: int | None, row: int, defaults: dict | None = None) -> dict:
    if defaults and isinstance(obj, dict):
        obj = {**defaults, **obj}
    validate_record(obj, where)
    return {**obj, "_file": str(path), "_line": line, "_row": row, "_hash": record_hash(obj)}


def location(record: dict) -> str:
    """Where a loaded record came from, in the same form as the readers' error messages."""
    if record.get("_line") is not None:
        return f"{record['_file']}:{record['_line']}"
    if record.get("_row") is not None:
        return f"{record['_file']} (row {record['_row']})"
    return str(record.get("_file", "<unknown>"))


def read_utf8(path: str | Path, what: str = "data file") -> str:
    """The text of a UTF-8 file (a BOM written by some editors is tolerated). A file in another encoding
    is an error that names the file and the encoding it looks like (``charset_normalizer``'s guess)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what}")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        from charset_normalizer import from_bytes

        best = from_bytes(raw[:1 << 20]).best()
        guess = best.encoding.replace("_", "-").upper() if best is not None else None
        looks = f"it looks like {guess}; convert it to UTF-8 (iconv -f {guess} -t UTF-8)" if guess else \
            "its encoding is unknown; convert it to UTF-8"
        raise ValueError(f"{path}: not UTF-8 (byte {raw[e.start]:#04x} at offset {e.start}): {looks}") from None


# ------------------------------------------------------------------------------ text formats
def json_lines(path: str | Path, what: str = "data file"):
    """(line number, ``file:line``, object) for each non-blank line of a JSON-lines file; a line that is
    not JSON stops with ``file:line: json: ...``."""
    path = Path(path)
    for lineno, line in enumerate(read_utf8(path, what).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise RecordError(where, "json", f"invalid JSON ({e.msg} at column {e.colno})") from None
        yield lineno, where, obj


def load_jsonl(path: str | Path, *, defaults: dict | None = None) -> list[dict]:
    """Read one DoIT file (one JSON object per line); blank lines are skipped."""
    path = Path(path)
    records = []
    for lineno, where, obj in json_lines(path):
        records.append(_record(obj, where, path, lineno, len(records), defaults))
    return records


def load_json_array(path: str | Path, *, defaults: dict | None = None) -> list[dict]:
    """Read a file holding one JSON array of records; each record's line is where its item starts."""
    path = Path(path)
    text = read_utf8(path)
    decoder = json.JSONDecoder()
    i = _WS.match(text).end()
    if text[i:i + 1] != "[":
        raise RecordError(f"{path}:{_line_at(text, i)}", "json", "expected a JSON array of records")
    i = _WS.match(text, i + 1).end()
    records: list[dict] = []
    line, counted = 1, 0  # line number at offset `counted`, advanced incrementally
    while text[i:i + 1] != "]":
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise RecordError(f"{path}:{e.lineno}", "json",
                              f"invalid JSON ({e.msg} at column {e.colno}) in item {len(records)}") from None
        line += text.count("\n", counted, i)
        counted = i
        records.append(_record(obj, f"{path}:{line} (item {len(records)})", path, line, len(records), defaults))
        i = _WS.match(text, end).end()
        if text[i:i + 1] == ",":
            i = _WS.match(text, i + 1).end()
            if text[i:i + 1] == "]":
                raise RecordError(f"{path}:{_line_at(text, i)}", "json", "trailing comma before ']'")
        elif text[i:i + 1] != "]":
            raise RecordError(f"{path}:{_line_at(text, i)}", "json",
                              f"expected ',' or ']' after item {len(records) - 1}")
    if text[_WS.match(text, i + 1).end():].strip():
        raise RecordError(f"{path}:{_line_at(text, i)}", "json", "extra data after the closing ']'")
    return records


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def load_json(path: str | Path, *, defaults: dict | None = None) -> list[dict]:
    """A ``.json`` file: a JSON array of records, or (as in DoIT) one JSON object per line.

    ``defaults`` fills fields a record lacks before it is validated.
    """
    path = Path(path)
    return (load_json_array if _first_char(path) == "[" else load_jsonl)(path, defaults=defaults)


def _first_char(path: Path) -> str:
    """The first non-blank character of a file, read without loading the whole file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such data file")
    try:
        with path.open(encoding="utf-8-sig") as f:
            while chunk := f.read(4096):
                if chunk.strip():
                    return chunk.lstrip()[0]
    except UnicodeDecodeError:
        read_utf8(path)  # raises, naming the file and its encoding
    return ""


# ---------------------------------------------------------------------------- columnar formats
def _from_columns(row: dict) -> dict:
    """Columnar formats have no 'absent': a field missing from a record comes back as null. Drop those."""
    out = {k: v for k, v in row.items() if v is not None}
    if isinstance(out.get("messages"), list):
        out["messages"] = [{k: v for k, v in m.items() if v is not None} if isinstance(m, dict) else m
                           for m in out["messages"]]
    return out


def load_parquet(path: str | Path) -> list[dict]:
    """A parquet file with DoIT's fields as columns (``messages`` a list of {role, content} structs)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such data file")
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise RecordError(str(path), "parquet", f"cannot read the file ({e})") from None
    if "messages" not in table.column_names:
        raise RecordError(str(path), "messages", f"missing column (columns: {', '.join(table.column_names)})")
    return [_record(_from_columns(row), f"{path} (row {i})", path, None, i)
            for i, row in enumerate(table.to_pylist())]


def load_hf_disk(path: str | Path) -> list[dict]:
    """A Hugging Face ``Dataset`` saved with ``save_to_disk`` (for a ``DatasetDict``, pass a split's directory)."""
    import datasets

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such dataset directory")
    if (path / "dataset_dict.json").is_file():
        splits = sorted(p.name for p in path.iterdir() if (p / "state.json").is_file())
        raise RecordError(str(path), "dataset", "this is a DatasetDict; point at one split's directory "
                                                f"({', '.join(str(path / s) for s in splits)})")
    if not (path / "state.json").is_file():
        raise RecordError(str(path), "dataset", "not a dataset saved with save_to_disk (no state.json)")
    ds = datasets.load_from_disk(str(path))
    if "messages" not in ds.column_names:
        raise RecordError(str(path), "messages", f"missing column (columns: {', '.join(ds.column_names)})")
    return [_record(_from_columns(row), f"{path} (row {i})", path, None, i) for i, row in enumerate(ds)]


def load_hf_json(path: str | Path, cache_dir: str | Path | None = None) -> list[dict]:
    """A JSON or JSON-lines file read through ``datasets.load_dataset("json", ...)``, offline.

    The datasets cache goes to a temporary directory unless ``cache_dir`` is given. If the JSON cannot be
    parsed, the native reader is run on the file to report the exact line of the problem.
    """
    import datasets

    path = Path(path)
    text = read_utf8(path)
    with tempfile.TemporaryDirectory(prefix="hf-json-") as tmp:
        try:
            ds = datasets.load_dataset("json", data_files=str(path), split="train",
                                       cache_dir=str(cache_dir or tmp))
        except Exception as e:
            load_json(path)  # raises RecordError with file:line when the JSON itself is bad
            raise RecordError(str(path), "json", f"datasets could not load the file ({e})") from None
        rows = ds.to_list()
    lines: list[int | None] = [None] * len(rows)
    if _first_char(path) != "[":  # JSON lines: row i is the i-th non-blank line
        nonblank = [n for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
        if len(nonblank) == len(rows):
            lines = nonblank
    records = []
    for i, row in enumerate(rows):
        where = f"{path}:{lines[i]}" if lines[i] is not None else f"{path} (row {i})"
        records.append(_record(_from_columns(row), where, path, lines[i], i))
    return records


def load_records(path: str | Path, engine: str = "native") -> list[dict]:
    """Load any supported source, choosing the reader by path.

    ``.jsonl`` JSON lines; ``.json`` a JSON array or JSON lines; ``.parquet`` parquet; a directory saved
    with ``datasets``' ``save_to_disk``. ``engine="hf"`` reads JSON and JSON lines with
    ``datasets.load_dataset`` instead of the native reader (the records are identical).
    """
    path = Path(path)
    if engine not in ("native", "hf"):
        raise ValueError(f"engine must be 'native' or 'hf', got {engine!r}")
    if path.is_dir():
        return load_hf_disk(path)
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        if engine == "hf":
            return load_hf_json(path)
        return load_jsonl(path) if suffix == ".jsonl" else load_json(path)
    if suffix == ".parquet":
        return load_parquet(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such data file")
    raise ValueError(f"{path}: unknown data format {suffix!r}; expected .json, .jsonl, .parquet or a "
                     "save_to_disk directory")


def strip_provenance(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in PROVENANCE}


# ----------------------------------------------------------------------------- DoIT's layout
def doit_file(root: str | Path, split: str, ability: str) -> Path:
    """Path of one ability's file in DoIT's layout: curated/{1000,full,valid,test}/{ability}_{split}.json."""
    return Path(root) / "curated" / split / f"{ability}_{split}.json"


def _check_types(records: list[dict], expected: str, what: str) -> list[dict]:
    for r in records:
        if r["type"] != expected:
            raise RecordError(location(r), "type", f"record of type {r['type']!r} in the {what!r} file")
    return records


def load_doit_split(root: str | Path, split: str, abilities=ABILITIES) -> dict[str, list[dict]]:
    """Load one split of a DoIT-layout directory, per ability; checks each record's ``type``."""
    if split not in SPLITS:
        raise ValueError(f"unknown DoIT split {split!r}; expected one of {', '.join(SPLITS)}")
    return {a: _check_types(load_json(doit_file(root, split, a)), a, a) for a in abilities}


def load_train_pools(root: str | Path, split: str, abilities=ABILITIES) -> dict[str, list[dict]]:
    """Training pools from ``curated/{split}``; a tree without ``curated/full`` (such as the generated
    demo suite, whose ``curated/1000`` is its whole pool) uses ``curated/1000`` for ``full``."""
    if split == "full" and not (Path(root) / "curated" / "full").is_dir():
        log.info("%s has no curated/full; using curated/1000 as the full pool", root)
        split = "1000"
    return load_doit_split(root, split, abilities)


def ood_file(root: str | Path, subject: str) -> Path:
    return Path(root) / "curated" / "test" / f"ceval_{subject}.json"


def ood_subjects(root: str | Path) -> list[str]:
    """The C-Eval out-of-domain subjects present under curated/test (``ceval_{subject}.json``)."""
    return sorted(p.stem[len("ceval_"):] for p in (Path(root) / "curated" / "test").glob("ceval_*.json"))


def load_doit_ood(root: str | Path, subjects=None) -> dict[str, list[dict]]:
    """Out-of-domain test sets, keyed ``ceval_{subject}``; records must have type ``ceval_{subject}_fshot``."""
    subjects = ood_subjects(root) if subjects is None else subjects
    return {f"ceval_{s}": _check_types(load_json(ood_file(root, s)), f"ceval_{s}_fshot", f"ceval_{s}")
            for s in subjects}


def synthetic_files(root: str | Path, subdir: str | Path = SYNTHETIC_DIR) -> list[Path]:
    files = sorted((Path(root) / subdir).glob("*.json"))
    if not files:
        raise FileNotFoundError(f"{Path(root) / subdir}: no synthetic data files (*.json)")
    return files


def load_synthetic(root: str | Path, subdir: str | Path = SYNTHETIC_DIR, default_type: str | None = "general"
                   ) -> list[dict]:
    """The synthetic pool: every ``*.json`` under ``synthetic/40960``, in file-name order.

    A record without ``type`` gets ``default_type`` (training reads only ``messages``, and the teacher
    file's own fields are not documented); its hash covers the filled-in record.
    """
    defaults = {"type": default_type} if default_type else None
    return [r for f in synthetic_files(root, subdir) for r in load_json(f, defaults=defaults)]
