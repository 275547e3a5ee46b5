"""Writing the suite: every ability's splits, the OOD sets, the synthetic file, the corpus and a manifest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from ..schema import ABILITIES, PASSAGE_SEPARATOR
from .world import OOD_SUBJECTS, build_world, distinct_records, seeded_rng
from .knowledge import gen_biology, gen_chinese, gen_history
from .context import gen_reasoning, gen_understanding
from .procedure import gen_ethics, gen_math
from .ranked import gen_code, gen_creative_writing, gen_role_play
from .ood import gen_ood
from .synthetic import generate_synthetic
from .corpus import build_corpus


GENERATORS: dict[str, Callable] = {
    "biology": gen_biology, "history": gen_history, "code": gen_code, "creative_writing": gen_creative_writing,
    "chinese": gen_chinese, "understanding": gen_understanding, "role_play": gen_role_play,
    "reasoning": gen_reasoning, "math": gen_math, "ethics": gen_ethics,
}


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _file_entry(path: Path, n: int) -> dict:
    return {"n": n, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def generate_suite(out_dir: str | Path, seed: int = 0, n_train: int = 256, n_valid: int = 50, n_test: int = 100,
                   abilities: Sequence[str] = ABILITIES, n_synthetic: int = 1024, synthetic_error_rate: float = 0.3,
                   n_ood: int = 40, corpus_passes: int = 30) -> dict:
    """Write the demo suite in DoIT's layout under ``out_dir``; return (and write) its manifest."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    abilities = list(abilities)
    unknown = [a for a in abilities if a not in GENERATORS]
    if unknown:
        raise ValueError(f"unknown abilities {unknown}; expected some of {', '.join(ABILITIES)}")
    if not 0 <= synthetic_error_rate <= 1:
        raise ValueError(f"synthetic_error_rate must be in [0, 1], got {synthetic_error_rate}")
    world = build_world(seed, n_train, n_valid, n_test, n_ood)
    files: dict[str, dict] = {}

    def put(rel: str, records: list[dict]):
        _write_jsonl(out / rel, records)
        files[rel] = _file_entry(out / rel, len(records))

    for ability in abilities:
        seen: set[str] = set()
        # test first, then valid, then train: a prompt is never reused across splits
        for split, dirname, n in (("test", "test", n_test), ("valid", "valid", n_valid), ("train", "1000", n_train)):
            rng = seeded_rng(seed, ability, split)
            recs = distinct_records(GENERATORS[ability](world, split, rng, n), n, f"{ability}/{split}", seen)
            put(f"curated/{dirname}/{ability}_{dirname}.json", recs)
    if n_ood > 0:
        for subject in OOD_SUBJECTS:
            put(f"curated/test/ceval_{subject}.json", gen_ood(world, subject, seed, n_ood))
    synth, flags, kinds = generate_synthetic(world, seed, n_synthetic, synthetic_error_rate)
    put("synthetic/40960/general_instruction_synthetic.json", synth)

    corpus = build_corpus(world, seed, corpus_passes)
    cpath = out / "pretrain" / "corpus.txt"
    cpath.parent.mkdir(parents=True, exist_ok=True)
    assert not any(PASSAGE_SEPARATOR in p for p in corpus)
    cpath.write_text(PASSAGE_SEPARATOR.join(corpus) + "\n", encoding="utf-8", newline="\n")
    files["pretrain/corpus.txt"] = _file_entry(cpath, len(corpus))

    manifest = {
        "seed": seed,
        "abilities": abilities,
        "files": dict(sorted(files.items())),
        "params": {"n_train": n_train, "n_valid": n_valid, "n_test": n_test, "n_synthetic": n_synthetic,
                   "synthetic_error_rate": synthetic_error_rate, "n_ood": n_ood, "corpus_passes": corpus_passes},
        "synthetic": {"n_wrong": sum(flags), "type": "general",
                      "kinds": {k: kinds.count(k) for k in sorted(set(kinds))}},
        "world": {"organisms": {s: len(v) for s, v in world["organisms"].items()},
                  "persons": {s: len(v) for s, v in world["persons"].items()},
                  "idioms": {s: len(v) for s, v in world["idioms"].items()},
                  "ood_subjects": list(OOD_SUBJECTS) if n_ood > 0 else [],
                  "practice": {k: len(world[k]["practice"]) for k in ("organisms", "persons")},
                  "corpus_chars": sum(len(x) + 2 for x in corpus)},
        "choice_answer_style": "bare letter, e.g. C; multi-select letters in order, e.g. AC",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                       encoding="utf-8")
    return manifest
