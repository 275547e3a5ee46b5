"""One function per workflow step. Each builds (or finds) one artifact in the store and returns it.

The Snakemake scripts in ``workflow/scripts/`` only unpack the ``snakemake`` object and call these, so
every step is importable, testable and runnable without Snakemake.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd

from .data import demo_suite
from .data.loaders import load_doit_split, load_jsonl, strip_provenance
from .data.sampling import nested_subset
from .store import Artifact, Store, artifact_key, write_parquet_atomic

log = logging.getLogger(__name__)

TRAIN_POOL_SPLIT = "1000"  # DoIT's directory for the per-ability training pool
SYNTHETIC_FILE = Path("synthetic") / "40960"


# ------------------------------------------------------------------------------------------- data
def build_suite(store: Store, spec: dict) -> Artifact:
    """The data suite: the generated demo suite, or a pointer to a local DoIT-layout directory."""
    if spec.get("source_dir"):
        root = Path(spec["source_dir"])
        if not root.is_dir():
            raise FileNotFoundError(f"data.source_dir: {root} does not exist")

        def link(tmp: Path):
            (tmp / "SOURCE").write_text(str(root.resolve()) + "\n")
            return {"source_dir": str(root.resolve())}
        return store.build("suite", spec, None, link)

    params = {k: v for k, v in spec["demo"].items()}

    def generate(tmp: Path):
        manifest = demo_suite.generate_suite(tmp, **params)
        return {"files": manifest["files"]}
    return store.build("suite", spec, None, generate)


def suite_root(suite: Artifact) -> Path:
    pointer = suite.path / "SOURCE"
    return Path(pointer.read_text().strip()) if pointer.exists() else suite.path


def load_pool(suite: Artifact, source: str, abilities: list[str]) -> dict[str, list[dict]]:
    """Training pools per ability (curated) or the single synthetic pool (key ``synthetic``)."""
    root = suite_root(suite)
    if source == "curated":
        return load_doit_split(root, TRAIN_POOL_SPLIT, abilities)
    if source == "synthetic":
        files = sorted((root / SYNTHETIC_FILE).glob("*.json"))
        if not files:
            raise FileNotFoundError(f"{root / SYNTHETIC_FILE}: no synthetic data files")
        return {"synthetic": [r for f in files for r in load_jsonl(f)]}
    raise ValueError(f"unknown data source {source!r}; expected curated or synthetic")


def per_ability_count(source: str, data_size: int, n_abilities: int) -> int:
    """Curated cells split their total evenly over abilities (the paper's N/10 per ability)."""
    if source == "curated":
        if data_size % n_abilities:
            raise ValueError(f"data size {data_size} is not a multiple of the {n_abilities} abilities")
        return data_size // n_abilities
    return data_size


def build_subset(store: Store, suite: Artifact, spec: dict) -> Artifact:
    """Materialise the training set of one cell: nested, seeded, order-independent subsets."""
    def materialise(tmp: Path):
        abilities = spec.get("abilities", [])
        pools = load_pool(suite, spec["source"], abilities)
        n = per_ability_count(spec["source"], spec["data_size"], len(abilities))
        chosen = []
        for name, pool in sorted(pools.items()):
            chosen += nested_subset(pool, n, spec["seed"], spec["source"], name, cap=spec.get("cap", False))
        with open(tmp / "train.jsonl", "w", encoding="utf-8") as f:
            for r in chosen:
                f.write(json.dumps(strip_provenance(r), ensure_ascii=False) + "\n")
        counts = pd.Series([r["type"] for r in chosen]).value_counts().sort_index().to_dict()
        return {"n": len(chosen), "per_type": counts}
    return store.build("subset", spec, {"suite": suite.key}, materialise)


# ----------------------------------------------------------------------------------------- models
def corpus_lines(suite: Artifact) -> list[str]:
    path = suite_root(suite) / "pretrain" / "corpus.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the suite has no pretraining corpus")
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def suite_texts(suite: Artifact):
    """Every text of the suite: what the character tokenizer must cover."""
    root = suite_root(suite)
    yield from corpus_lines(suite)
    for f in sorted(root.rglob("*.json")):
        if f.name == "manifest.json":
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield line


def build_tokenizer(store: Store, suite: Artifact, spec: dict) -> Artifact:
    from .models.tokenizer import train_char_tokenizer

    def train(tmp: Path):
        tok = train_char_tokenizer(suite_texts(suite), tmp)
        return {"vocab_size": len(tok)}
    return store.build("tokenizer", spec, {"suite": suite.key}, train)


def build_base_model(store: Store, suite: Artifact, tokenizer: Artifact, spec: dict) -> Artifact:
    """A tiny LLaMA pretrained on the suite's corpus (spec: arch + pretrain settings)."""
    from transformers import AutoTokenizer

    from .models.tiny import pretrain

    if "path" in spec:  # a real base model from a local directory: used in place, keyed by its files
        path = check_model_dir(spec["path"]).resolve()
        files = sorted((p.name, p.stat().st_size) for p in path.iterdir() if p.is_file())
        return Artifact("base_model", "external-" + artifact_key("base_model", {"path": str(path), "files": files}),
                        path)

    def train(tmp: Path):
        tok = AutoTokenizer.from_pretrained(tokenizer.path)
        info = pretrain(tok, corpus_lines(suite), spec["arch"], tmp, work_dir=tmp.parent / f".work-{tmp.name}",
                        seed=spec.get("seed", 0), **spec["pretrain"])
        shutil.rmtree(tmp.parent / f".work-{tmp.name}", ignore_errors=True)
        return info
    return store.build("base_model", spec, {"suite": suite.key, "tokenizer": tokenizer.key}, train)


def check_model_dir(path: str | Path) -> Path:
    """A usable HF causal-LM directory, or a clear error naming what is missing (train.checks)."""
    from .train.checks import check_model_dir as check

    return check(path)


# --------------------------------------------------------------------------------------- training
def build_sft(store: Store, base: Artifact, subset: Artifact, spec: dict, *, nproc: int = 1,
              threads: int | None = None, launcher: str = "torchrun") -> Artifact:
    """Fine-tune ``base`` on ``subset`` in ``nproc`` launched processes; keeps weights-only snapshots per epoch.

    The model directory, the settings and the data are checked here, before any process is launched.
    Trainer's resumable state lives in ``{store}/sft/.work-{key}``: outside the artifact (which is
    renamed into place only when complete) and outside Snakemake's declared outputs (which Snakemake
    deletes before a re-run), so a killed cell resumes from its last epoch.
    """
    from dataclasses import asdict

    from .train.launch import run_cell
    from .train.sft import SFTSettings, prepare

    settings = SFTSettings.from_dict(spec["settings"])
    inputs = {"base": base.key, "subset": subset.key}
    work = store.root / "sft" / f".work-{artifact_key('sft', spec, inputs)}"

    def train(tmp: Path):
        train_file = subset.path / "train.jsonl"
        prepare(base.path, load_jsonl(train_file), settings)  # clear errors before anything is launched
        # Epoch snapshots accumulate in the work dir too, so that they survive an interruption.
        job = {"base_model_dir": str(base.path), "train_file": str(train_file), "out_dir": str(work / "out"),
               "work_dir": str(work / "trainer"), "settings": asdict(settings)}
        info = run_cell(job, work, nproc=nproc, launcher=launcher, threads=threads)
        shutil.move(str(work / "out" / "epochs"), tmp / "epochs")
        info["bytes_stored"] = sum(p.stat().st_size for p in (tmp / "epochs").rglob("*") if p.is_file())
        (tmp / "train_metrics.json").write_text(json.dumps(info, indent=2, default=str))
        shutil.rmtree(work, ignore_errors=True)  # optimizer states go once the cell is complete
        return {"train": {k: v for k, v in info.items() if k not in ("settings", "optimizer_steps")}}
    return store.build("sft", spec, inputs, train)


# ------------------------------------------------------------------------------------- evaluation
def load_eval_sets(suite: Artifact, abilities: list[str], splits: list[str]) -> dict[str, list[dict]]:
    root = suite_root(suite)
    sets = {}
    for split in splits:
        for ability, records in load_doit_split(root, split, abilities).items():
            sets[f"{ability}_{split}"] = records
    return sets


def build_predictions(store: Store, model_dir: Path, model_key: str, suite: Artifact, spec: dict) -> Artifact:
    """Per-instance predictions of one model on the study's eval sets.

    spec: ``abilities``, ``splits``, ``dtype``, ``batch_size`` (int or ``auto``), ``max_new_tokens``;
    optional ``ood`` (add the suite's C-Eval-style sets to the test split), ``benchmarks``
    (``{"cmmlu": {"dir", "shots"}, "agieval": {"dir", "settings", "tasks"}, "max_tokens"}``),
    ``letter_position``, ``loglikelihood_strategy``, ``max_batch_tokens``, ``chunk_size``.

    Rows go chunk by chunk to a prediction log keyed by (model, settings) under
    ``{store}/predictions/.rows/``, outside the artifact: a killed evaluation resumes from its last
    chunk, and any study that evaluates the same model with the same settings reuses the rows.
    """
    import hashlib

    from .evaluate import agieval, cmmlu
    from .evaluate.engine import HFEngine
    from .evaluate.ood import load_ood_sets
    from .evaluate.predictions import PredictionLog, settings_hash
    from .evaluate.run import DEFAULT_CHUNK_SIZE, eval_settings, evaluate_sets

    letter_position = spec.get("letter_position", "first")

    def run(tmp: Path):
        engine = HFEngine(check_model_dir(model_dir), dtype=spec["dtype"], batch_size=spec["batch_size"],
                          max_batch_tokens=spec.get("max_batch_tokens"),
                          loglikelihood_strategy=spec.get("loglikelihood_strategy", "auto"))
        sets = load_eval_sets(suite, spec["abilities"], spec["splits"])
        if spec.get("ood") and "test" in spec["splits"]:
            sets.update(load_ood_sets(suite_root(suite), "test"))
        bench = spec.get("benchmarks") or {}
        max_tokens = bench.get("max_tokens", engine.max_positions)
        if "cmmlu" in bench:
            sets.update(cmmlu.load_cmmlu(bench["cmmlu"]["dir"], bench["cmmlu"].get("shots", [0, 5]),
                                         tokenizer=engine.tokenizer, max_tokens=max_tokens))
        if "agieval" in bench:
            a = bench["agieval"]
            sets.update(agieval.load_agieval(a["dir"], a.get("settings", ["zero-shot", "few-shot"]),
                                             a.get("tasks", agieval.CHINESE_MC_TASKS),
                                             tokenizer=engine.tokenizer, max_tokens=max_tokens))
        settings = eval_settings(engine, spec.get("max_new_tokens"), letter_position)
        model_hash = hashlib.sha256(model_key.encode()).hexdigest()[:16]
        log = PredictionLog(store.root / "predictions" / ".rows" / f"{model_hash}-{settings_hash(settings)}",
                            model_key, settings)
        with log.lock():
            df = evaluate_sets(engine, sets, spec.get("max_new_tokens"), log=log, letter_position=letter_position,
                               chunk_size=spec.get("chunk_size", DEFAULT_CHUNK_SIZE))
        write_parquet_atomic(df, tmp / "predictions.parquet")
        return {"n": len(df), "settings": settings, "settings_hash": log.settings_hash, "rows_log": str(log.dir)}
    return store.build("predictions", spec, {"model": model_key, "suite": suite.key}, run)


def epoch_dir(sft: Artifact, epoch: int) -> Path:
    return sft.path / "epochs" / f"epoch-{epoch}"



def evaluate_checkpoint(store: Store, suite: Artifact, sft: Artifact, epoch: int, spec: dict, cell: dict,
                        out: str | Path) -> pd.DataFrame:
    """Predictions of one epoch's checkpoint, labelled with its cell, written to ``out``."""
    model_dir = epoch_dir(sft, epoch)
    preds = build_predictions(store, model_dir, f"{sft.key}/epoch-{epoch}", suite, spec)
    df = pd.read_parquet(preds.path / "predictions.parquet")
    for k, v in cell.items():
        df[k] = v
    df["epoch"] = epoch
    df["predictions_key"] = preds.key
    write_parquet_atomic(df, out)
    return df
