"""Content fingerprints of input files: hashed once, cached by file identity, and an in-place change
to one record or one weight file changes exactly the keys of the artifacts that read it."""

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from growthpace import artifacts, fingerprint
from growthpace.fingerprint import Fingerprints, tree_files
from growthpace.store import Store

from .conftest import ROOT, snakemake

DOIT = ROOT / "tests" / "fixtures" / "doit"
ABILITIES = ["biology", "history", "code", "creative_writing", "chinese", "understanding", "role_play",
             "reasoning", "math", "ethics"]


@pytest.fixture
def counting(monkeypatch):
    """Count the files actually read for hashing."""
    read = []
    real = fingerprint.sha256_file

    def spy(path):
        read.append(Path(path))
        return real(path)
    monkeypatch.setattr(fingerprint, "sha256_file", spy)
    return read


def edit_in_place(path: Path, old: str, new: str) -> None:
    """Rewrite a file in place (same inode, same size), then put its mtime back, as some tools do."""
    st = path.stat()
    text = path.read_text(encoding="utf-8")
    assert old in text and len(old.encode()) == len(new.encode()) and old != new
    with open(path, "r+", encoding="utf-8") as f:
        f.write(text.replace(old, new, 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_ino == st.st_ino


def fix_one_record(path: Path) -> None:
    """Change one character of the first record of a DoIT file (its first CJK character), in place."""
    first = next(c for c in path.read_text(encoding="utf-8").splitlines()[0] if ord(c) >= 0x4E00)
    edit_in_place(path, first, chr(ord(first) + 1))


def test_hashes_are_sha256_and_cached_by_file_identity(tmp_path, counting):
    a, b = tmp_path / "data" / "a.json", tmp_path / "data" / "b.bin"
    a.parent.mkdir()
    a.write_text('{"x": 1}\n')
    b.write_bytes(os.urandom(3000))
    cache = tmp_path / "cache"
    got = Fingerprints(cache).hashes([a, b])
    assert got == {a: hashlib.sha256(a.read_bytes()).hexdigest(), b: hashlib.sha256(b.read_bytes()).hexdigest()}
    assert sorted(counting) == sorted([a, b])
    # A new process (a new cache object) finds both in the cache files: nothing is read again.
    counting.clear()
    assert Fingerprints(cache).hashes([a, b]) == got and counting == []
    # Same size, same mtime, same inode, different bytes: the ctime gives it away.
    edit_in_place(a, '"x": 1', '"x": 2')
    again = Fingerprints(cache).hashes([a, b])
    assert counting == [a]
    assert again[a] == hashlib.sha256(a.read_bytes()).hexdigest() != got[a] and again[b] == got[b]
    # Without a cache every file is read every time.
    counting.clear()
    Fingerprints(None).hashes([a, b])
    Fingerprints(None).hashes([a, b])
    assert len(counting) == 4


def test_fingerprint_names_files_by_label_not_by_place(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    shutil.copytree(DOIT, one)
    shutil.copytree(DOIT, two)
    fp = Fingerprints(tmp_path / "cache")
    first = fp.fingerprint(fingerprint.labelled(one, tree_files(one)))
    second = fp.fingerprint(fingerprint.labelled(two, tree_files(two)))
    assert first.digest == second.digest and len(first.files) == len(tree_files(DOIT))
    assert first.record()["files"]["curated/1000/math_1000.json"] == hashlib.sha256(
        (DOIT / "curated" / "1000" / "math_1000.json").read_bytes()).hexdigest()
    (two / ".git").mkdir()
    (two / ".git" / "index").write_text("x")  # hidden files are not part of a directory's content
    assert fp.fingerprint(fingerprint.labelled(two, tree_files(two))).digest == first.digest


def test_record_counts_are_cached_with_the_hash(tmp_path):
    pool = tmp_path / "pool.json"
    pool.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(7)))
    counted = []

    def count(p):
        counted.append(p)
        return len(p.read_text().splitlines())
    assert Fingerprints(tmp_path / "c").record_count(pool, count) == 7
    assert Fingerprints(tmp_path / "c").record_count(pool, count) == 7 and len(counted) == 1
    with open(pool, "a") as f:
        f.write(json.dumps({"n": 7}) + "\n")
    assert Fingerprints(tmp_path / "c").record_count(pool, count) == 8 and len(counted) == 2


# --------------------------------------------------------------------- keys of what reads the files
def _keys(store: Store, root: Path, model_dir: Path) -> dict[str, str]:
    """The key of every kind of artifact the study would build from this DoIT copy and base model."""
    fp = store.fingerprints()
    curated = {"source": "curated", "data_size": 20, "seed": 0, "cap": False, "abilities": ABILITIES}
    synthetic = {"source": "synthetic", "data_size": 3, "seed": 0, "cap": False}
    recipe = {"recipe": {"name": "bio-heavy", "counts": {"biology": 2, "math": 1}, "pool": "full"},
              "abilities": ABILITIES, "seed": 0, "cap": False}
    evaluation = {"abilities": ABILITIES, "splits": ["valid", "test"], "batch_size": 8, "dtype": "auto",
                  "max_new_tokens": {}, "ood": True}
    base = artifacts.base_request(None, None, {"path": str(model_dir)}, fp).key
    subsets = {name: artifacts.subset_request(root, spec, fp).key
               for name, spec in [("curated", curated), ("synthetic", synthetic), ("recipe", recipe)]}
    keys = {f"subset/{n}": k for n, k in subsets.items()}
    keys["base"] = base
    for name, subset in subsets.items():
        sft = artifacts.sft_request(base, subset, {"settings": {"epochs": 1}}).key
        keys[f"sft/{name}"] = sft
        keys[f"predictions/{name}"] = artifacts.predictions_request(root, artifacts.checkpoint_key(sft, 1), evaluation,
                                                                 fp).key
    keys["predictions/base"] = artifacts.predictions_request(root, base, evaluation, fp).key
    return keys


def _changed(before: dict, after: dict) -> list[str]:
    return sorted(k for k in before if before[k] != after[k])


def test_an_in_place_fix_rebuilds_exactly_what_read_it(tmp_path, tiny_model_dir):
    root, model = tmp_path / "doit", tmp_path / "model"
    shutil.copytree(DOIT, root)
    shutil.copytree(tiny_model_dir, model)
    store = Store(tmp_path / "store")
    keys = _keys(store, root, model)
    assert len(set(keys.values())) == len(keys)
    # A second copy of the same data and model, elsewhere: the same keys (content, not place).
    shutil.copytree(root, tmp_path / "doit2")
    shutil.copytree(model, tmp_path / "model2")
    assert _keys(store, tmp_path / "doit2", tmp_path / "model2") == keys

    # One record of the math training pool: the curated subset (every curated cell draws from every
    # ability), its fine-tuned model and that model's predictions. Not the synthetic cell, not the
    # recipe (it reads curated/full), not the base model's predictions.
    fix_one_record(root / "curated" / "1000" / "math_1000.json")
    after = _keys(store, root, model)
    assert _changed(keys, after) == ["predictions/curated", "sft/curated", "subset/curated"]

    # One record of a test set: every evaluation, and nothing that trains.
    keys = after
    fix_one_record(root / "curated" / "test" / "history_test.json")
    after = _keys(store, root, model)
    assert _changed(keys, after) == ["predictions/base", "predictions/curated", "predictions/recipe",
                                     "predictions/synthetic"]

    # One weight file re-written in place (one tensor changed): the base model, everything trained
    # from it and every prediction; no training set.
    keys = after
    weights = next(model.glob("*.safetensors"))
    tensors = load_file(weights)
    name = sorted(tensors)[0]
    tensors[name] = tensors[name] + torch.ones_like(tensors[name])
    save_file(tensors, weights, metadata={"format": "pt"})
    after = _keys(store, root, model)
    assert _changed(keys, after) == ["base", "predictions/base", "predictions/curated", "predictions/recipe",
                                     "predictions/synthetic", "sft/curated", "sft/recipe", "sft/synthetic"]


def test_built_artifacts_record_their_fingerprint_and_are_rebuilt_after_a_fix(tmp_path):
    root = tmp_path / "doit"
    shutil.copytree(DOIT, root)
    store = Store(tmp_path / "store")
    suite = artifacts.build_suite(store, {"source_dir": str(root)})
    curated = {"source": "curated", "data_size": 10, "seed": 0, "cap": False, "abilities": ABILITIES}
    synthetic = {"source": "synthetic", "data_size": 3, "seed": 0, "cap": False}
    c1, s1 = artifacts.build_subset(store, suite, curated), artifacts.build_subset(store, suite, synthetic)
    manifest = store.manifest("subset", c1.key)
    assert set(manifest["fingerprint"]["files"]) == {f"curated/1000/{a}_1000.json" for a in ABILITIES}
    assert manifest["inputs"] == {"data": manifest["fingerprint"]["digest"]}
    pool = root / "curated" / "1000" / "ethics_1000.json"
    fix_one_record(pool)
    c2, s2 = artifacts.build_subset(store, suite, curated), artifacts.build_subset(store, suite, synthetic)
    assert c2.key != c1.key and s2.key == s1.key
    assert store.exists("subset", c1.key) and store.exists("subset", c2.key)  # the old one is not overwritten
    recorded = store.manifest("subset", c2.key)["fingerprint"]["files"]
    assert recorded["curated/1000/ethics_1000.json"] == hashlib.sha256(pool.read_bytes()).hexdigest()
    assert recorded["curated/1000/math_1000.json"] == manifest["fingerprint"]["files"]["curated/1000/math_1000.json"]


# ------------------------------------------------------------------------- what snakemake re-runs
def _job_stats(out: str) -> dict:
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M) if rule != "total"}


@pytest.mark.workflow
def test_snakemake_reruns_exactly_the_jobs_whose_external_inputs_changed(tmp_path, tiny_model_dir):
    """A study on a DoIT directory and a local model directory: after an in-place fix of one pool
    record, of one test record, of one weight file, the next run re-runs only the jobs that read it
    (each rule has the digest of what it reads among its params)."""
    root, model = tmp_path / "doit", tmp_path / "model"
    shutil.copytree(DOIT, root)
    shutil.copytree(tiny_model_dir, model)
    cfg = yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())
    cfg.update(study="doit", store_dir=str(tmp_path / "store"))
    cfg["data"] = {"source_dir": str(root), "abilities": ABILITIES, "leakage": "warn"}
    cfg["grid"] = {"model_sizes": ["xs"], "data_sizes": {"curated": [10], "synthetic": [3]}}
    cfg["models"]["sizes"] = {"xs": {"path": str(model)}}
    cfg["evaluation"]["ood"] = True
    config = tmp_path / "doit.yaml"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    results = Path("results") / "doit" / "receipts"
    targets = [str(results / "subset" / "curated-10-seed0.json"), str(results / "subset" / "synthetic-3-seed0.json"),
               str(results / "base" / "xs.json")]

    def plan(*args):
        proc = snakemake(tmp_path, *targets, *args, configfile=config)
        return _job_stats(proc.stdout + proc.stderr)
    assert plan() == {"suite": 1, "subset": 2, "base_model": 1}  # built now
    assert plan("-n") == {}
    fix_one_record(root / "curated" / "1000" / "math_1000.json")
    assert plan() == {"subset": 1}  # the curated cell's training set only: a new artifact
    # A test record: the leakage check of both subsets reads it; their training sets are unchanged,
    # so both resolve from the store (locally).
    fix_one_record(root / "curated" / "test" / "history_test.json")
    assert plan() == {"reuse_subset": 2}
    weights = next(model.glob("*.safetensors"))
    tensors = load_file(weights)
    tensors = {k: v + 1 for k, v in tensors.items()}
    save_file(tensors, weights, metadata={"format": "pt"})
    assert plan("-n") == {"base_model": 1}


def test_benchmark_predictions_are_keyed_by_every_file_they_read(tmp_path):
    from growthpace.evaluate.agieval import prompts_path

    fixtures = ROOT / "tests" / "fixtures"
    agieval = tmp_path / "agieval"
    shutil.copytree(fixtures / "agieval", agieval)
    v1 = agieval / "data" / "v1"
    for given in ({"dir": str(v1)}, {"dir": str(v1), "prompts": str(agieval / "data" / "few_shot_prompts.csv")}):
        assert artifacts.agieval_prompts(given) == prompts_path(given["dir"], given.get("prompts"))
    spec = {"benchmarks": {"cmmlu": {"dir": str(fixtures / "cmmlu")}, "agieval": {"dir": str(v1)}}}
    files = artifacts.benchmark_files(spec)
    assert sorted(files) == ["agieval-prompts:few_shot_prompts.csv", "agieval:jec-qa-kd.jsonl",
                             "agieval:logiqa-zh.jsonl", "cmmlu:dev/ancient_chinese.csv", "cmmlu:dev/high_school_biology.csv",
                             "cmmlu:test/ancient_chinese.csv", "cmmlu:test/high_school_biology.csv"]
    fp = Fingerprints(tmp_path / "cache")
    before = fp.fingerprint(files).digest
    shutil.copy(agieval / "data" / "few_shot_prompts.csv", v1 / "few_shot_prompts.csv")  # demos beside the tasks now
    assert artifacts.agieval_prompts(spec["benchmarks"]["agieval"]) == prompts_path(str(v1))
    after = artifacts.benchmark_files(spec)
    assert "agieval:few_shot_prompts.csv" in after and "agieval-prompts:few_shot_prompts.csv" not in after
    assert fp.fingerprint(after).digest != before
    zero_shot = {"benchmarks": {"agieval": {"dir": str(v1), "settings": ["zero-shot"]}}}
    assert not any(k.startswith("agieval-prompts") for k in artifacts.benchmark_files(zero_shot))
