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
from .store import Artifact, Store, artifact_key, read_receipt, write_parquet_atomic

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


def build_subset(store: Store, suite: Artifact, spec: dict, leakage: str = "off",
                 recipe_file: str | Path | None = None) -> Artifact:
    """Materialise the training set of one cell: nested, seeded, order-independent subsets.

    A spec with a ``recipe`` goes to ``build_recipe_subset``; one with ``derived_recipe`` (a guideline
    cell) too, with the recipe of that name read from ``recipe_file`` (the study's derived recipe.yaml).
    ``leakage`` (``error``, ``report`` or ``off``: ``data.leakage``) checks the chosen records against
    every held-out set of the suite each time the step runs, whether the subset was built now or found
    in the store.
    """
    if "derived_recipe" in spec:
        return build_recipe_subset(store, suite, derived_recipe_spec(spec, recipe_file), leakage)
    if "recipe" in spec:
        return build_recipe_subset(store, suite, spec, leakage)

    def materialise(tmp: Path):
        abilities = spec.get("abilities", [])
        pools = load_pool(suite, spec["source"], abilities)
        n = per_ability_count(spec["source"], spec["data_size"], len(abilities))
        chosen = []
        for name, pool in sorted(pools.items()):
            chosen += nested_subset(pool, n, spec["seed"], spec["source"], name, cap=spec.get("cap", False))
        return _write_train_set(tmp, chosen)
    subset = store.build("subset", spec, {"suite": suite.key}, materialise)
    check_subset_leakage(suite, subset, leakage)
    return subset


def _write_train_set(tmp: Path, chosen: list[dict]) -> dict:
    """``train.jsonl`` (records without provenance) and ``sources.txt`` (where each came from, line by line)."""
    from .data.loaders import location

    with open(tmp / "train.jsonl", "w", encoding="utf-8") as f:
        for r in chosen:
            f.write(json.dumps(strip_provenance(r), ensure_ascii=False) + "\n")
    (tmp / "sources.txt").write_text("".join(location(r) + "\n" for r in chosen), encoding="utf-8")
    counts = pd.Series([r["type"] for r in chosen], dtype=object).value_counts().sort_index().to_dict()
    return {"n": len(chosen), "per_type": counts}


def plain_equivalent(plan, abilities: list[str], seed: int, cap: bool) -> dict | None:
    """The plain subset spec whose training set equals a resolved recipe's, if there is one: the same
    items per ability from ``curated/1000`` (curated-N, baseline), or synthetic items only. The recipe
    then shares that artifact (and so the fine-tuned models trained on it) with the plain grid cell."""
    counts = set(plan.counts.values())
    if plan.synthetic == 0 and plan.pool_split == "1000" and len(counts) == 1 and not plan.capped \
            and set(plan.counts) == set(abilities) and 0 not in counts:
        return {"source": "curated", "data_size": counts.pop() * len(abilities), "seed": seed, "cap": cap,
                "abilities": list(abilities)}
    if plan.synthetic and not any(plan.counts.values()) and not plan.capped:
        return {"source": "synthetic", "data_size": plan.synthetic, "seed": seed, "cap": cap}
    return None


def build_recipe_subset(store: Store, suite: Artifact, spec: dict, leakage: str = "off") -> Artifact:
    """The training set of a recipe cell (spec: ``recipe`` name or user mapping, ``abilities``, ``seed``,
    ``cap``), keyed by content: the recipe is resolved against the suite's pool sizes first, and the
    artifact's key is that of the resolved counts, so recipes (and studies) asking for the same mixture
    share one artifact, and a recipe equal to a plain cell (baseline = curated-10000) shares its.

    A request larger than a pool stops with ``RecipeError`` naming every shortfall, unless ``cap``.
    """
    from .data.loaders import load_synthetic, load_train_pools
    from .data.recipes import parse_recipe, select_records
    from .study import canonical

    abilities = spec["abilities"]
    recipe = parse_recipe(spec["recipe"], abilities)
    root = suite_root(suite)
    pools = load_train_pools(root, recipe.pool_split, abilities) if recipe.needs_curated else {}
    synthetic = load_synthetic(root) if recipe.needs_synthetic else None
    plan = recipe.resolve({a: len(p) for a, p in pools.items()}, None if synthetic is None else len(synthetic),
                          cap=spec.get("cap", False))
    for what, (asked, taken) in plan.capped.items():
        log.warning("recipe %s: %s capped to the pool: asked for %d, took %d", plan.name, what, asked, taken)
    plain = plain_equivalent(plan, abilities, spec["seed"], spec.get("cap", False))
    if plain is not None:
        log.info("recipe %s: the same training set as the plain %s-%d subset", plan.name, plain["source"],
                 plain["data_size"])
        return build_subset(store, suite, canonical(plain), leakage)

    def materialise(tmp: Path):
        info = _write_train_set(tmp, select_records(plan, pools, synthetic, spec["seed"]))
        return {**info, "counts": plan.counts, "synthetic": plan.synthetic, "pool_split": plan.pool_split}
    subset = store.build("subset", canonical({"plan": plan.spec(), "seed": spec["seed"]}), {"suite": suite.key},
                         materialise)
    check_subset_leakage(suite, subset, leakage)
    return subset


def derived_recipe_spec(spec: dict, recipe_file: str | Path | None) -> dict:
    """A guideline cell's subset spec with the derived recipe's counts in place of its name. The counts
    are known only once the grid has been analysed, so they come from a file, not from the config."""
    import yaml

    from .study import definition_spec

    name = spec["derived_recipe"]
    if recipe_file is None:
        raise ValueError(f"subset of the derived recipe {name!r}: no recipe file given")
    recipes = yaml.safe_load(Path(recipe_file).read_text(encoding="utf-8")) or {}
    if name not in recipes:
        raise ValueError(f"{recipe_file}: no recipe {name!r} (the analysis derived none: does every ability "
                         "have curated cells at two data sizes or more?)")
    rest = {k: v for k, v in spec.items() if k != "derived_recipe"}
    return {**rest, "recipe": definition_spec(name, recipes[name])}


def pool_sizes(suite: Artifact, abilities: list[str], split: str = "full") -> dict[str, int]:
    """Items per ability in the suite's ``curated/{split}`` training pools (``full`` falls back to
    ``curated/1000`` where the suite has no full pools, as recipes do)."""
    from .data.loaders import load_train_pools

    return {a: len(p) for a, p in load_train_pools(suite_root(suite), split, abilities).items()}


def held_out_records(suite: Artifact) -> list[dict]:
    """Every valid and test record of the suite (all abilities it has) and its out-of-domain sets."""
    from .data.loaders import doit_file, load_doit_ood, load_json
    from .data.schema import ABILITIES

    root = suite_root(suite)
    held = [r for split in ("valid", "test") for a in ABILITIES if doit_file(root, split, a).is_file()
            for r in load_json(doit_file(root, split, a))]
    return held + [r for recs in load_doit_ood(root).values() for r in recs]


def check_subset_leakage(suite: Artifact, subset: Artifact, mode: str) -> list:
    """``data.leakage``: a training record whose prompt (or whole record) is also in a held-out set stops
    the run (``error``) or is logged (``report``), with every offending pair listed (``file:line``)."""
    from .data.leakage import check_leakage

    if mode == "off":
        return []
    train = load_jsonl(subset.path / "train.jsonl")
    sources = subset.path / "sources.txt"
    if sources.is_file():  # name each training record by the pool file and line it was drawn from
        for r, where in zip(train, sources.read_text(encoding="utf-8").splitlines()):
            r.update(_file=where, _line=None, _row=None)
    leaks = check_leakage(train, held_out_records(suite), by="prompt", mode=mode)
    log.info("leakage check (%s): %d training record(s) also in held-out sets", mode, len(leaks))
    return leaks


def realised_cell(cell: dict, subset: Artifact) -> dict:
    """A cell as trained: recipe cells get their realised total (known only once the recipe has been
    resolved against the pools) as ``data_size``."""
    if cell.get("data_source") in ("recipe", "single_ability"):
        manifest = json.loads((subset.path / "manifest.json").read_text())
        return {**cell, "data_size": int(manifest["n"])}
    return cell


def receipt_cell(path: str | Path) -> dict:
    """The cell recorded in a training receipt (``realised_cell``)."""
    return json.loads(Path(path).read_text())["cell"]


# ----------------------------------------------------------------------------------------- models
def corpus_lines(suite: Artifact) -> list[str]:
    path = suite_root(suite) / "pretrain" / "corpus.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the suite has no pretraining corpus")
    return demo_suite.read_corpus(path)  # passages separated by an empty line; one may span lines


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


def build_base_model(store: Store, suite: Artifact, tokenizer: Artifact | None, spec: dict) -> Artifact:
    """A tiny LLaMA pretrained on the suite's corpus (spec: arch + pretrain settings, and ``tokenizer``),
    or a local HF model directory used in place (spec: ``path``; no tokenizer)."""
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
        return {"train": {k: v for k, v in info.items() if k not in ("settings", "optimizer_steps", "losses")}}
    return store.build("sft", spec, inputs, train)


# ---------------------------------------------------------------------------------------- analysis
def model_parameters(base_receipts: dict) -> dict[str, int]:
    """{model size: parameters} from each base model's config.json (``models.size``), weights unread."""
    from .models.size import parameter_count

    return {str(ms): parameter_count(read_receipt(path).path) for ms, path in base_receipts.items()}


def recipe_counts(subset_receipts: dict) -> dict[str, dict[str, int]]:
    """{recipe: {ability: items}} as realised in one cell's training set of each recipe."""
    return {recipe: json.loads((read_receipt(path).path / "manifest.json").read_text()).get("per_type", {})
            for recipe, path in subset_receipts.items()}


def analyze_study(suite: Artifact, scores: list, predictions: list, out_dir: str | Path, spec: dict,
                  base_receipts: dict | None = None, recipe_subsets: dict | None = None,
                  extrapolate: dict | None = None, untrained: dict | None = None) -> dict:
    """The analysis tables of a study (``analysis.pipeline.analyze``, spec: ``study.analysis_spec``) from
    its tables: the grid's, plus the guideline cells' when given (concatenated: each cell's epoch was
    selected on its own). The suite gives the test records (complexity proxies) and the pool sizes, so
    that the derived recipe never asks a pool for more than it holds. ``base_receipts`` (model size ->
    receipt) give the parameter counts of the growth model over model size, ``recipe_subsets`` (recipe
    -> a subset receipt) the recipes' per-ability counts, ``extrapolate`` (``study.extrapolate_spec``)
    the sizes to predict only and the form, ``untrained`` (``study.untrained_spec``) the sizes not trained
    to derive the optimiser's recipe for, and the SFT settings they would train with."""
    from .analysis import pipeline

    scores_df = pd.concat([pd.read_parquet(p) for p in scores], ignore_index=True)
    predictions_df = pd.concat([pd.read_parquet(p) for p in predictions], ignore_index=True)
    abilities, budget = spec["abilities"], spec["budget"]
    pools = pool_sizes(suite, abilities, spec["pool"])
    if budget and sum(pools.values()) < budget:
        message = (f"analysis.guideline.budget: {budget} items, but the suite's curated/{spec['pool']} pools hold "
                   f"{sum(pools.values())} ({', '.join(f'{a} {n}' for a, n in pools.items())})")
        if spec["strict_pools"]:
            raise ValueError(message)
        log.warning("%s: the suggested recipe ignores the pool sizes", message)
        pools = None
    records = load_eval_sets(suite, abilities, ["test"])
    # A generated suite says what each ability needs by construction; real data does not.
    generated = suite_root(suite) == suite.path
    needs = {a: demo_suite.ABILITY_NEEDS[a] for a in abilities if a in demo_suite.ABILITY_NEEDS} if generated else None
    return pipeline.analyze(
        scores_df, predictions_df, out_dir, abilities=abilities, model_sizes=spec["model_sizes"], records=records,
        budget=budget, pool_sizes=pools, weighting=spec["weighting"], recipe_name=spec["recipe_name"],
        guideline_model_sizes=spec.get("guideline_model_sizes"), methods=spec.get("methods", ["paper"]),
        optimize=spec.get("optimize"), training=spec.get("training"),
        n_boot=spec["n_boot"], seed=spec["seed"], level=spec["level"], tau_data=spec["tau_data"],
        tau_model=spec["tau_model"], study=spec["study"], ability_needs=needs,
        params=model_parameters(base_receipts) if base_receipts else None,
        recipe_counts=recipe_counts(recipe_subsets) if recipe_subsets else None,
        extrapolate_sizes=(extrapolate or {}).get("model_sizes"),
        extrapolate_form=(extrapolate or {}).get("form", "auto"),
        untrained_sizes=list((untrained or {}).get("model_sizes") or []),
        untrained_training=(untrained or {}).get("training"))


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
    ``loglikelihood_strategy``, ``max_batch_tokens``, ``chunk_size``,
    ``add_chat_tokens`` (a base model whose tokenizer lacks the speaker tokens gets them, with its
    embeddings resized as SFT would) and ``plain_prompt`` (``{"shots", "seed", "question", "answer"}``:
    plain-text prompts, after solved items of the suite's training pools, ``evaluate.prompts.PlainPrompts``,
    for a base model).

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
    from .study import missing_benchmark_paths

    # Benchmark files are checked before a model is loaded or anything is evaluated.
    missing = missing_benchmark_paths(spec.get("benchmarks") or {})
    if missing:
        raise FileNotFoundError("benchmark data missing:\n" + "\n".join(f"  - {m}" for m in missing))

    def run(tmp: Path):
        engine = HFEngine(check_model_dir(model_dir), dtype=spec["dtype"], batch_size=spec["batch_size"],
                          max_batch_tokens=spec.get("max_batch_tokens"),
                          loglikelihood_strategy=spec.get("loglikelihood_strategy", "auto"),
                          add_chat_tokens=spec.get("add_chat_tokens", False),
                          # batch sizes found by backing off from out-of-memory, kept for every later
                          # evaluation of a model of the same shape on the same kind of device
                          batch_size_file=store.root / "predictions" / ".batch-sizes.json")
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
                                             tokenizer=engine.tokenizer, max_tokens=max_tokens,
                                             prompts=a.get("prompts")))
        plain = spec.get("plain_prompt")
        pools = load_pool(suite, "curated", spec["abilities"]) if plain and plain["shots"] else None
        settings = eval_settings(engine, spec.get("max_new_tokens"), plain)
        model_hash = hashlib.sha256(model_key.encode()).hexdigest()[:16]
        log = PredictionLog(store.root / "predictions" / ".rows" / f"{model_hash}-{settings_hash(settings)}",
                            model_key, settings)
        with log.lock():
            df = evaluate_sets(engine, sets, spec.get("max_new_tokens"), log=log,
                               chunk_size=spec.get("chunk_size", DEFAULT_CHUNK_SIZE), plain=plain, shot_pools=pools)
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
    return _labelled(preds, cell, epoch, out)


def has_chat_tokens(model_dir: str | Path) -> bool:
    from transformers import AutoTokenizer

    from .models.chat import ASSISTANT, EOT, USER

    vocab = AutoTokenizer.from_pretrained(model_dir).get_vocab()
    return all(t in vocab for t in (USER, ASSISTANT, EOT))


def evaluate_base(store: Store, suite: Artifact, base: Artifact, spec: dict, cell: dict,
                  out: str | Path) -> pd.DataFrame:
    """Predictions of the untuned base model, labelled as its cell's epoch 0, written to ``out``.

    With ``plain_prompt`` in the spec (``evaluation.base_prompt.format: plain``) the model is prompted in
    plain text, as it is (``evaluate.prompts.PlainPrompts``). In the chat format, a base model whose
    tokenizer lacks the speaker tokens (any real HF model) gets them added and its embeddings resized
    (seeded), as SFT does before its first step.
    """
    path = check_model_dir(base.path)
    if "plain_prompt" not in spec and not has_chat_tokens(path):
        spec = {**spec, "add_chat_tokens": True}
    preds = build_predictions(store, path, base.key, suite, spec)
    return _labelled(preds, cell, 0, out)


def _labelled(preds: Artifact, cell: dict, epoch: int, out: str | Path) -> pd.DataFrame:
    df = pd.read_parquet(preds.path / "predictions.parquet")
    for k, v in cell.items():
        df[k] = v
    df["epoch"] = epoch
    df["predictions_key"] = preds.key
    write_parquet_atomic(df, out)
    return df
