"""One function per workflow step. Each builds (or finds) one artifact in the store and returns it.

The Snakemake scripts in ``workflow/scripts/`` only unpack the ``snakemake`` object and call these, so
every step is importable, testable and runnable without Snakemake.

What an artifact *is* (its ``Request``: kind, spec, inputs and so its key) is computed by the
``*_request`` functions from the suite's directory alone, without building anything: the build
functions use them, and so does the workflow when it plans a study (``growthpace.reuse``), so that the
key a job is planned with is the key its build gets. Every file an artifact reads from a suite, a
base-model directory or a benchmark directory enters its key by content (``growthpace.fingerprint``).
Each build function takes ``reuse_only``: find the artifact, never build it (the workflow's local
``reuse_*`` rules).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from . import hub
from .data import demo
from .data.loaders import doit_file, load_doit_split, load_json, load_jsonl, strip_provenance
from .data.sampling import nested_subset
from .devices import CPU
from .fingerprint import Fingerprint, Fingerprints, labelled, tree_files
from .files import tree_bytes, write_parquet_atomic
from .store import Artifact, Store, artifact_key, read_receipt

if TYPE_CHECKING:  # pandas takes 0.4 s to import: a training job's own process needs none of it
    import pandas as pd

log = logging.getLogger(__name__)

TRAIN_POOL_SPLIT = "1000"  # DoIT's directory for the per-ability training pool
SYNTHETIC_FILE = Path("synthetic") / "40960"
CORPUS_FILE = Path("pretrain") / "corpus.txt"


@dataclass(frozen=True)
class Request:
    """What an artifact is: kind, spec and inputs (its key), and the fingerprint of the files it reads."""

    kind: str
    spec: dict
    inputs: dict
    fingerprint: Fingerprint | None = None

    @property
    def key(self) -> str:
        return artifact_key(self.kind, self.spec, self.inputs)

    def build(self, store: Store, builder, reuse_only: bool = False) -> Artifact:
        extra = {"fingerprint": self.fingerprint.record()} if self.fingerprint is not None else None
        return store.build(self.kind, self.spec, self.inputs, builder, extra=extra, reuse_only=reuse_only)


def data_request(kind: str, spec: dict, fp: Fingerprints, files: dict[str, Path], **inputs) -> Request:
    """A request whose ``data`` input is the fingerprint of ``files`` ({label: path})."""
    fingerprint = fp.fingerprint(files)
    return Request(kind, spec, {**inputs, "data": fingerprint.digest}, fingerprint)


# ------------------------------------------------------------------------------------------- data
def build_suite(store: Store, spec: dict) -> Artifact:
    """The data suite: the generated demo suite, or a pointer to a local DoIT-layout directory.

    A pointer is keyed by the directory's path: it says where the data is, and holds none of it. What
    each artifact reads from the directory enters that artifact's key by content (``subset_request``,
    ``predictions_request``), so an in-place fix of one file rebuilds exactly what read it.
    """
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
        manifest = demo.generate_suite(tmp, **params)
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
                 recipe_file: str | Path | None = None, reuse_only: bool = False) -> Artifact:
    """Materialise the training set of one cell: nested, seeded, order-independent subsets.

    A spec with a ``recipe`` goes to ``build_recipe_subset``; one with ``derived_recipe`` (a guideline
    cell) too, with the recipe of that name read from ``recipe_file`` (the study's derived recipe.yaml).
    ``leakage`` (``error``, ``report`` or ``off``: ``data.leakage``) checks the chosen records against
    every held-out set of the suite each time the step runs, whether the subset was built now or found
    in the store.
    """
    if "derived_recipe" in spec:
        return build_recipe_subset(store, suite, derived_recipe_spec(spec, recipe_file), leakage, reuse_only)
    if "recipe" in spec:
        return build_recipe_subset(store, suite, spec, leakage, reuse_only)

    def materialise(tmp: Path):
        abilities = spec.get("abilities", [])
        pools = load_pool(suite, spec["source"], abilities)
        n = per_ability_count(spec["source"], spec["data_size"], len(abilities))
        chosen = []
        for name, pool in sorted(pools.items()):
            chosen += nested_subset(pool, n, spec["seed"], spec["source"], name, cap=spec.get("cap", False))
        return _write_train_set(tmp, chosen)
    request = subset_request(suite_root(suite), spec, store.fingerprints())
    subset = request.build(store, materialise, reuse_only)
    check_subset_leakage(suite, subset, leakage)
    return subset


def subset_files(root: Path, spec: dict) -> dict[str, Path]:
    """The files a plain subset reads: its abilities' ``curated/1000`` pools, or every synthetic file."""
    if spec["source"] == "curated":
        return labelled(root, [doit_file(root, TRAIN_POOL_SPLIT, a) for a in spec.get("abilities", [])])
    if spec["source"] == "synthetic":
        return labelled(root, synthetic_pool_files(root))
    raise ValueError(f"unknown data source {spec['source']!r}; expected curated or synthetic")


def synthetic_pool_files(root: Path) -> list[Path]:
    files = sorted((Path(root) / SYNTHETIC_FILE).glob("*.json"))
    if not files:
        raise FileNotFoundError(f"{Path(root) / SYNTHETIC_FILE}: no synthetic data files")
    return files


def subset_request(root: Path, spec: dict, fp: Fingerprints) -> Request:
    """What the training set of a plain or recipe subset spec is (a guideline spec must first be made
    a recipe spec: ``derived_recipe_spec``)."""
    if "recipe" in spec:
        return recipe_request(root, spec, fp)[0]
    return data_request("subset", spec, fp, subset_files(root, spec))


def _write_train_set(tmp: Path, chosen: list[dict]) -> dict:
    """``train.jsonl`` (records without provenance) and ``sources.txt`` (where each came from, line by line)."""
    from .data.loaders import location

    with open(tmp / "train.jsonl", "w", encoding="utf-8") as f:
        for r in chosen:
            f.write(json.dumps(strip_provenance(r), ensure_ascii=False) + "\n")
    (tmp / "sources.txt").write_text("".join(location(r) + "\n" for r in chosen), encoding="utf-8")
    counts = dict(sorted(Counter(r["type"] for r in chosen).items()))
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


def recipe_request(root: Path, spec: dict, fp: Fingerprints):
    """(request, resolved plan) of a recipe subset spec (``recipe`` name or user mapping, ``abilities``,
    ``seed``, ``cap``). The recipe is resolved against the pool sizes first (counted once per file
    content: ``Fingerprints.record_count``), and the artifact is keyed by the resolved counts, so that
    recipes (and studies) asking for the same mixture share one artifact; a recipe equal to a plain
    cell (baseline = curated-10000) gets the plain cell's request. A request larger than a pool stops
    with ``RecipeError`` naming every shortfall, unless ``cap``."""
    from .data.recipes import parse_recipe
    from .study import canonical

    abilities = spec["abilities"]
    recipe = parse_recipe(spec["recipe"], abilities)
    pools = pool_paths(root, recipe.pool_split, abilities) if recipe.needs_curated else {}
    synthetic = synthetic_pool_files(root) if recipe.needs_synthetic else []
    sizes = {a: fp.record_count(f, lambda f: len(load_json(f))) for a, f in pools.items()}
    n_synthetic = sum(fp.record_count(f, lambda f: len(load_json(f, defaults={"type": "general"})))
                      for f in synthetic) if synthetic else None
    plan = recipe.resolve(sizes, n_synthetic, cap=spec.get("cap", False))
    plain = plain_equivalent(plan, abilities, spec["seed"], spec.get("cap", False))
    if plain is not None:
        return subset_request(root, canonical(plain), fp), plan
    files = labelled(root, [*pools.values(), *synthetic])
    return data_request("subset", canonical({"plan": plan.spec(), "seed": spec["seed"]}), fp, files), plan


def pool_paths(root: Path, split: str, abilities: list[str]) -> dict[str, Path]:
    """The ``curated/{split}`` pool file of each ability, as ``data.loaders.load_train_pools`` reads them."""
    if split == "full" and not (Path(root) / "curated" / "full").is_dir():
        split = TRAIN_POOL_SPLIT
    return {a: doit_file(root, split, a) for a in abilities}


def build_recipe_subset(store: Store, suite: Artifact, spec: dict, leakage: str = "off",
                        reuse_only: bool = False) -> Artifact:
    """The training set of a recipe cell (``recipe_request``)."""
    from .data.loaders import load_synthetic, load_train_pools
    from .data.recipes import parse_recipe, select_records

    root = suite_root(suite)
    request, plan = recipe_request(root, spec, store.fingerprints())
    for what, (asked, taken) in plan.capped.items():
        log.warning("recipe %s: %s capped to the pool: asked for %d, took %d", plan.name, what, asked, taken)
    if "source" in request.spec:
        log.info("recipe %s: the same training set as the plain %s-%d subset", plan.name, request.spec["source"],
                 request.spec["data_size"])
        return build_subset(store, suite, request.spec, leakage, reuse_only=reuse_only)

    def materialise(tmp: Path):
        abilities = spec["abilities"]
        recipe = parse_recipe(spec["recipe"], abilities)
        pools = load_train_pools(root, recipe.pool_split, abilities) if recipe.needs_curated else {}
        synthetic = load_synthetic(root) if recipe.needs_synthetic else None
        info = _write_train_set(tmp, select_records(plan, pools, synthetic, spec["seed"]))
        return {**info, "counts": plan.counts, "synthetic": plan.synthetic, "pool_split": plan.pool_split}
    subset = request.build(store, materialise, reuse_only)
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


def recipe_pools(suite: Artifact, spec: dict, strict: bool | None = None) -> dict[str, int] | None:
    """The pool sizes a derived recipe is held to (``pool_sizes``), or None when the budget exceeds them
    all: then the recipe ignores the pools, or with ``strict`` (default ``spec["strict_pools"]``) it is an
    error, named by its config key."""
    budget = spec["budget"]
    pools = pool_sizes(suite, spec["abilities"], spec["pool"])
    if budget and sum(pools.values()) < budget:
        message = (f"analysis.guideline.budget: {budget} items, but the suite's curated/{spec['pool']} pools hold "
                   f"{sum(pools.values())} ({', '.join(f'{a} {n}' for a, n in pools.items())})")
        if spec["strict_pools"] if strict is None else strict:
            raise ValueError(message)
        log.warning("%s: the suggested recipe ignores the pool sizes", message)
        return None
    return pools


def held_out_files(root: Path) -> dict[str, Path]:
    """The files ``held_out_records`` reads."""
    from .data.loaders import ood_file, ood_subjects
    from .data.schema import ABILITIES

    files = [doit_file(root, split, a) for split in ("valid", "test") for a in ABILITIES]
    return labelled(root, [f for f in files if f.is_file()] + [ood_file(root, s) for s in ood_subjects(root)])


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
    return demo.read_corpus(path)  # passages separated by an empty line; one may span lines


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


def tokenizer_files(root: Path) -> dict[str, Path]:
    """What ``suite_texts`` reads: the corpus and every JSON file of the suite."""
    files = [root / CORPUS_FILE] + [f for f in sorted(root.rglob("*.json")) if f.name != "manifest.json"]
    return labelled(root, files)


def tokenizer_request(root: Path, spec: dict, fp: Fingerprints) -> Request:
    return data_request("tokenizer", spec, fp, tokenizer_files(root))


def build_tokenizer(store: Store, suite: Artifact, spec: dict, reuse_only: bool = False) -> Artifact:
    from .models.tokenizer import train_char_tokenizer

    def train(tmp: Path):
        tok = train_char_tokenizer(suite_texts(suite), tmp)
        return {"vocab_size": len(tok)}
    return tokenizer_request(suite_root(suite), spec, store.fingerprints()).build(store, train, reuse_only)


# A local model directory is registered in the store as a pointer keyed by the fingerprint of every
# file in it (weights, config, tokenizer): copies of one model share artifacts, and re-merged weights
# are a new model.
MODEL_DIR_SPEC = {"source": "local directory"}


def base_request(root: Path | None, tokenizer_key: str | None, spec: dict, fp: Fingerprints) -> Request:
    """What a base model is: a local directory's files (spec ``path``), or a tiny model's spec, the
    suite's corpus and the tokenizer's key."""
    if "path" in spec:
        path = Path(spec["path"])
        origin = hub.origin(path)  # a Hub snapshot: its repository and commit enter the key too
        return data_request("base_model", {**MODEL_DIR_SPEC, "hub": origin} if origin else MODEL_DIR_SPEC, fp,
                            labelled(path, tree_files(path)))
    return data_request("base_model", spec, fp, labelled(root, [root / CORPUS_FILE]), tokenizer=tokenizer_key)


def build_base_model(store: Store, suite: Artifact, tokenizer: Artifact | None, spec: dict,
                     reuse_only: bool = False) -> Artifact:
    """A tiny LLaMA pretrained on the suite's corpus (spec: arch + pretrain settings, and ``tokenizer``),
    or a local HF model directory used in place (spec: ``path``; no tokenizer): the receipt's path is
    the directory itself, its key that of its pointer in the store."""
    if "path" in spec:
        path = check_model_dir(spec["path"]).resolve()

        def link(tmp: Path):
            (tmp / "SOURCE").write_text(str(path) + "\n")
            return {"source_dir": str(path)}
        pointer = base_request(None, None, {"path": path}, store.fingerprints()).build(store, link, reuse_only)
        return Artifact("base_model", pointer.key, path)

    def train(tmp: Path):
        from transformers import AutoTokenizer

        from .models.tiny import pretrain

        tok = AutoTokenizer.from_pretrained(tokenizer.path)
        info = pretrain(tok, corpus_lines(suite), spec["arch"], tmp, work_dir=tmp.parent / f".work-{tmp.name}",
                        seed=spec.get("seed", 0), **spec["pretrain"])
        shutil.rmtree(tmp.parent / f".work-{tmp.name}", ignore_errors=True)
        return info
    request = base_request(suite_root(suite), tokenizer.key, spec, store.fingerprints())
    return request.build(store, train, reuse_only)


def check_model_dir(path: str | Path) -> Path:
    """A usable HF causal-LM directory, or a clear error naming what is missing (train.checks)."""
    from .train.checks import check_model_dir as check

    return check(path)


# --------------------------------------------------------------------------------------- training
def sft_request(base_key: str, subset_key: str, spec: dict) -> Request:
    return Request("sft", spec, {"base": base_key, "subset": subset_key})


def build_sft(store: Store, base: Artifact, subset: Artifact, spec: dict, *, nproc: int = 1,
              threads: int | None = None, launcher: str = "torchrun", reuse_only: bool = False,
              evaluate: dict | None = None) -> Artifact:
    """Fine-tune ``base`` on ``subset`` in ``nproc`` launched processes; keeps weights-only snapshots per epoch.

    ``evaluate`` (``evaluation.in_training_job``): ``{"suite": Artifact, "threads", "epochs": {epoch:
    predictions spec}}``: once training is done, the main process builds those predictions of its epoch
    snapshots in the store (``evaluate_epochs_in_training``), where the evaluate jobs then find them. Not
    part of the key: the model does not depend on it.

    The settings are checked here, before any process is launched; the model directory and the data by
    the launched processes before they load anything (their error is raised here).
    Trainer's resumable state lives in ``{store}/sft/.work-{key}``: outside the artifact (which is
    renamed into place only when complete) and outside Snakemake's declared outputs (which Snakemake
    deletes before a re-run), so a killed cell resumes from its last epoch.
    """
    from dataclasses import asdict

    from .train.settings import SFTSettings

    settings = SFTSettings.from_dict(spec["settings"])
    request = sft_request(base.key, subset.key, spec)
    work = store.root / "sft" / f".work-{request.key}"

    def train(tmp: Path):
        from .train.launch import run_cell

        train_file = subset.path / "train.jsonl"
        check_base_unchanged(store, base)
        # Held while training reads them: `store gc` leaves the subset and the base model alone.
        with store.reading(base, subset):
            # The workers check the model directory and the data before they load anything; run_cell
            # raises their error here (train.launch).
            # Epoch snapshots accumulate in the work dir too, so that they survive an interruption.
            job = {"base_model_dir": str(base.path), "train_file": str(train_file), "out_dir": str(work / "out"),
                   "work_dir": str(work / "trainer"), "settings": asdict(settings),
                   "device": spec.get("device", CPU)}  # each process checks that it runs on what the key says
            if evaluate:
                job["evaluate"] = {"store": str(store.root), "suite": evaluate["suite"].receipt(),
                                   "sft_key": request.key, "threads": evaluate.get("threads"),
                                   "epochs": {str(e): s for e, s in evaluate["epochs"].items()}}
            info = run_cell(job, work, nproc=nproc, launcher=launcher, threads=threads)
        shutil.move(str(work / "out" / "epochs"), tmp / "epochs")
        info["bytes_stored"] = tree_bytes(tmp / "epochs")
        (tmp / "train_metrics.json").write_text(json.dumps(info, indent=2, default=str))
        shutil.rmtree(work, ignore_errors=True)  # optimizer states go once the cell is complete
        return {"train": {k: v for k, v in info.items() if k not in ("settings", "optimizer_steps", "losses")}}
    return request.build(store, train, reuse_only)


def check_base_unchanged(store: Store, base: Artifact) -> None:
    """A path base model is used in place, keyed by its files when ``base_model`` ran, possibly days
    before its training job starts: the files must still be those (``train.checks.check_model_unchanged``)."""
    from .train.checks import check_model_unchanged

    if not store.exists(base.kind, base.key):
        return
    manifest = store.manifest(base.kind, base.key)
    if "source_dir" in manifest and "fingerprint" in manifest:
        check_model_unchanged(base.path, manifest["fingerprint"]["files"], store.fingerprints())


# ---------------------------------------------------------------------------------------- analysis
def model_parameters(base_receipts: dict) -> dict[str, int]:
    """{model size: parameters}: for a base model pretrained here, the count its build recorded in the
    store's manifest (``models.tiny.pretrain``: the distinct parameters of the model that its config.json
    describes, the count ``models.size`` makes); for a model used in place, counted from its config.json
    (``models.size``, weights unread). The recorded count spares the analysis importing PyTorch and
    transformers and building each model on the meta device (4 s of the demo's analysis)."""
    from .models.size import parameter_count

    counts = {}
    for ms, path in base_receipts.items():
        base = read_receipt(path)
        manifest = base.path / "manifest.json"
        recorded = json.loads(manifest.read_text()) if manifest.is_file() else {}
        own = recorded.get("kind") == base.kind and recorded.get("key") == base.key
        counts[str(ms)] = int(recorded["parameters"]) if own and "parameters" in recorded else parameter_count(base.path)
    return counts


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
    import pandas as pd

    from .analysis import pipeline

    scores_df = pd.concat([pd.read_parquet(p) for p in scores], ignore_index=True)
    predictions_df = pd.concat([pd.read_parquet(p) for p in predictions], ignore_index=True)
    abilities, budget = spec["abilities"], spec["budget"]
    pools = recipe_pools(suite, spec)
    records = load_eval_sets(suite, abilities, ["test"])
    # A generated suite says what each ability needs by construction; real data does not.
    generated = suite_root(suite) == suite.path
    needs = {a: demo.ABILITY_NEEDS[a] for a in abilities if a in demo.ABILITY_NEEDS} if generated else None
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
        untrained_training=(untrained or {}).get("training"),
        decide_on=spec.get("decide_on", "valid"), min_effect=spec.get("min_effect"))


# ------------------------------------------------------------------------------------- evaluation
def load_eval_sets(suite: Artifact, abilities: list[str], splits: list[str]) -> dict[str, list[dict]]:
    root = suite_root(suite)
    sets = {}
    for split in splits:
        for ability, records in load_doit_split(root, split, abilities).items():
            sets[f"{ability}_{split}"] = records
    return sets


def predictions_files(root: Path, spec: dict) -> dict[str, Path]:
    """Every file an evaluation with ``spec`` reads, as the loaders read them: the suite's eval sets
    (and out-of-domain sets), the training pools a plain prompt draws solved items from, and the
    benchmark files (``benchmark_files``)."""
    from .evaluate.ood import PATTERN as OOD_PATTERN

    files = labelled(root, [doit_file(root, split, a) for split in spec["splits"] for a in spec["abilities"]])
    if spec.get("ood") and "test" in spec["splits"]:
        files.update(labelled(root, sorted((root / "curated" / "test").glob(OOD_PATTERN))))
    plain = spec.get("plain_prompt")
    if plain and plain.get("shots"):  # a base model's plain prompt shows solved items of the training pools
        files.update(labelled(root, [doit_file(root, TRAIN_POOL_SPLIT, a) for a in spec["abilities"]]))
    return {**files, **benchmark_files(spec)}


def benchmark_files(spec: dict) -> dict[str, Path]:
    """The benchmark files of an evaluation with ``spec``: every file of each benchmark directory
    (labelled ``cmmlu:...``, ``agieval:...``; a benchmark's predictions are keyed by its directory's
    content), and AGIEval's demos file where it lies outside its directory (``agieval-prompts:``)."""
    bench = spec.get("benchmarks") or {}
    files: dict[str, Path] = {}
    for name in ("cmmlu", "agieval"):
        if name in bench:
            files.update(labelled(bench[name]["dir"], tree_files(bench[name]["dir"]), f"{name}:"))
    if "agieval" in bench and "few-shot" in bench["agieval"].get("settings", ["zero-shot", "few-shot"]):
        prompts = agieval_prompts(bench["agieval"])
        if prompts.is_file() and prompts.parent != Path(bench["agieval"]["dir"]):
            files[f"agieval-prompts:{prompts.name}"] = prompts
    return files


def agieval_prompts(agieval: dict) -> Path:
    """Where ``evaluate.agieval.prompts_path`` finds the demos (a test checks that the two agree; that
    module imports torch, which planning a study must not wait for)."""
    root = Path(agieval["dir"])
    if agieval.get("prompts"):
        return Path(agieval["prompts"])
    return root / "few_shot_prompts.csv" if (root / "few_shot_prompts.csv").is_file() else \
        root.parent / "few_shot_prompts.csv"


def predictions_request(root: Path, model_key: str, spec: dict, fp: Fingerprints,
                        fingerprint: Fingerprint | None = None) -> Request:
    """``fingerprint``: that of ``predictions_files(root, spec)`` if known (planning a study computes it
    once per evaluation spec, not once per checkpoint)."""
    if fingerprint is None:
        fingerprint = fp.fingerprint(predictions_files(root, spec))
    return Request("predictions", spec, {"model": model_key, "data": fingerprint.digest}, fingerprint)


def build_predictions(store: Store, model_dir: Path, model_key: str, suite: Artifact, spec: dict,
                      reuse_only: bool = False, model: Artifact | None = None,
                      threads: int | None = None) -> Artifact:
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
    ``model``: the artifact ``model_dir`` belongs to, held with the suite while they are read
    (``Store.reading``: ``store gc`` leaves them alone). ``threads``: torch's CPU threads, set only if
    the predictions are built (torch takes seconds to import; finding them in the store does not need it).
    """
    from .study import missing_benchmark_paths

    # Benchmark files are checked before a model is loaded or anything is evaluated.
    missing = [] if reuse_only else missing_benchmark_paths(spec.get("benchmarks") or {})
    if missing:
        raise FileNotFoundError("benchmark data missing:\n" + "\n".join(f"  - {m}" for m in missing))

    def run(tmp: Path):
        with store.reading(model, suite):
            return evaluate(tmp)

    def evaluate(tmp: Path):
        import hashlib
        import time

        started = time.perf_counter()
        if threads:
            import torch

            torch.set_num_threads(threads)
        from .evaluate import agieval, cmmlu
        from .evaluate.engine import HFEngine
        from .evaluate.ood import load_ood_sets
        from .evaluate.predictions import PredictionLog, settings_hash
        from .evaluate.run import DEFAULT_CHUNK_SIZE, eval_settings, evaluate_sets, prompt_format

        from .devices import check_running, running_device

        # The key says which device and dtype the rows come from: nothing else may write them.
        device = spec.get("device", CPU)
        check_running(device, spec["dtype"], running_device(), f"evaluation of {model_dir}")
        engine = HFEngine(check_model_dir(model_dir), device=device, dtype=spec["dtype"],
                          batch_size=spec["batch_size"],
                          max_batch_tokens=spec.get("max_batch_tokens"),
                          loglikelihood_strategy=spec.get("loglikelihood_strategy", "auto"),
                          add_chat_tokens=spec.get("add_chat_tokens", False),
                          # batch sizes found by backing off from out-of-memory, kept for every later
                          # evaluation of a model of the same shape on the same kind of device
                          batch_size_file=store.root / "predictions" / ".batch-tokens.json")
        sets = load_eval_sets(suite, spec["abilities"], spec["splits"])
        if spec.get("ood") and "test" in spec["splits"]:
            sets.update(load_ood_sets(suite_root(suite), "test"))
        plain = spec.get("plain_prompt")
        pools = load_pool(suite, "curated", spec["abilities"]) if plain and plain["shots"] else None
        settings = eval_settings(engine, spec.get("max_new_tokens"), plain)
        # few-shot benchmark prompts are trimmed to fit as the model will get them: chat or plain text
        fmt = prompt_format(engine, settings["max_new_tokens"], plain, pools)
        bench = spec.get("benchmarks") or {}
        max_tokens = bench.get("max_tokens", engine.max_positions)
        if "cmmlu" in bench:
            sets.update(cmmlu.load_cmmlu(bench["cmmlu"]["dir"], bench["cmmlu"].get("shots", [0, 5]),
                                         length=fmt.prompt_length, max_tokens=max_tokens))
        if "agieval" in bench:
            a = bench["agieval"]
            sets.update(agieval.load_agieval(a["dir"], a.get("settings", ["zero-shot", "few-shot"]),
                                             a.get("tasks", agieval.CHINESE_MC_TASKS),
                                             length=fmt.prompt_length, max_tokens=max_tokens,
                                             prompts=a.get("prompts")))
        loaded = time.perf_counter()
        model_hash = hashlib.sha256(model_key.encode()).hexdigest()[:16]
        log = PredictionLog(store.root / "predictions" / ".rows" / f"{model_hash}-{settings_hash(settings)}",
                            model_key, settings)
        with log.lock():
            df = evaluate_sets(engine, sets, spec.get("max_new_tokens"), log=log,
                               chunk_size=spec.get("chunk_size", DEFAULT_CHUNK_SIZE), plain=plain, shot_pools=pools)
        evaluated = time.perf_counter()
        write_parquet_atomic(df, tmp / "predictions.parquet")
        # Where the time went (benchmarks/demo_profile.py): imports, model and eval sets; the
        # evaluation itself (rows a resumed run found in its log cost nothing here); the table.
        phases = {"load": loaded - started, "evaluate": evaluated - loaded, "write": time.perf_counter() - evaluated}
        return {"n": len(df), "settings": settings, "settings_hash": log.settings_hash, "rows_log": str(log.dir),
                "phase_seconds": {k: round(v, 3) for k, v in phases.items()}}
    return predictions_request(suite_root(suite), model_key, spec, store.fingerprints()).build(store, run, reuse_only)


PRUNED = "pruned.json"  # in a fine-tuned model's epochs/: the epochs training.keep_epochs deleted


def epoch_dir(sft: Artifact, epoch: int) -> Path:
    path = sft.path / "epochs" / f"epoch-{epoch}"
    pruned = sft.path / "epochs" / PRUNED
    if not path.is_dir() and pruned.is_file() and epoch in json.loads(pruned.read_text())["deleted"]:
        raise FileNotFoundError(
            f"{path}: epoch {epoch} of this fine-tuned model was deleted by a study with training.keep_epochs: "
            f"selected ({pruned}); delete the model's directory {sft.path} to train it again with every epoch")
    return path


def prune_epochs(sft: Artifact, keep: list[int]) -> list[int]:
    """Delete a fine-tuned model's epoch snapshots other than ``keep`` (training.keep_epochs: selected);
    record them in ``epochs/pruned.json`` first, so that a later request for one names the setting.
    Each snapshot is renamed before it is deleted: a killed run leaves no half-deleted epoch behind its name."""
    from .files import write_json_atomic

    epochs = sft.path / "epochs"
    present = sorted(int(p.name.removeprefix("epoch-")) for p in epochs.glob("epoch-*") if p.is_dir())
    doomed = [e for e in present if e not in set(keep)]
    if not doomed:
        return []
    before = json.loads((epochs / PRUNED).read_text())["deleted"] if (epochs / PRUNED).is_file() else []
    write_json_atomic(epochs / PRUNED, {"deleted": sorted(set(before) | set(doomed)), "kept": sorted(keep)})
    for e in doomed:
        path = epochs / f"epoch-{e}"
        trash = epochs / f".pruned-epoch-{e}-{os.getpid()}"
        os.replace(path, trash)
        shutil.rmtree(trash)
    return doomed



def keep_selected_epochs(store: Store, cells_tables: list, keep: dict, out: str | Path) -> dict:
    """Prune the fine-tuned model of every cell in the tables whose model size keeps selected epochs only
    (``keep``: ``{model_size: {cell name: [benchmarked epochs]}}``, ``study.keep_plan``) to its selected
    epoch and those; ``out`` records what was deleted, per cell."""
    import pandas as pd

    from . import study
    from .files import write_json_atomic

    done = {}
    for table in cells_tables:
        for row in pd.read_parquet(table).to_dict("records"):
            name = study.Cell(row["model_size"], row["data_source"], int(row["data_size"]), int(row["seed"]),
                              row.get("recipe") or "").name
            kept = (keep.get(row["model_size"]) or {}).get(name)
            if kept is None:
                continue
            sft = Artifact("sft", row["sft_key"], store.path("sft", row["sft_key"]))
            done[f"{row['model_size']}/{name}"] = prune_epochs(sft, sorted({*kept, int(row["selected_epoch"])}))
    write_json_atomic(out, done)
    return done


def checkpoint_key(sft_key: str, epoch: int) -> str:
    """The model key of one epoch's checkpoint (an input of its predictions)."""
    return f"{sft_key}/epoch-{epoch}"


def evaluate_checkpoint(store: Store, suite: Artifact, sft: Artifact, epoch: int, spec: dict, cell: dict,
                        out: str | Path, reuse_only: bool = False, threads: int | None = None) -> pd.DataFrame:
    """Predictions of one epoch's checkpoint, labelled with its cell, written to ``out``."""
    model_dir = epoch_dir(sft, epoch)
    preds = build_predictions(store, model_dir, checkpoint_key(sft.key, epoch), suite, spec, reuse_only, model=sft,
                              threads=threads)
    return _labelled(preds, cell, epoch, out)


def evaluate_epochs_in_training(plan: dict, epochs_dir: Path) -> dict:
    """The predictions of a cell's epoch snapshots, built by the training process that wrote them
    (``evaluation.in_training_job``): torch, transformers and the eval sets are loaded already, where
    each evaluate job would load them again. ``plan`` (``build_sft``'s ``evaluate``, with the store and
    the cell's key): ``{"store", "suite", "sft_key", "threads", "epochs": {epoch: predictions spec}}``.

    Each is keyed and stored exactly as its evaluate job would build it, which then finds it in the store.
    Best effort: an epoch that fails here is logged and left to its evaluate job, which reports the error.
    Returns ``{epoch: predictions key, or the error}``.
    """
    store = Store(plan["store"])
    suite = Artifact(plan["suite"]["kind"], plan["suite"]["key"], Path(plan["suite"]["path"]))
    done = {}
    for epoch, spec in sorted(plan["epochs"].items(), key=lambda kv: int(kv[0])):
        try:
            preds = build_predictions(store, epochs_dir / f"epoch-{epoch}", checkpoint_key(plan["sft_key"], int(epoch)),
                                      suite, spec, threads=plan.get("threads"))
            done[str(epoch)] = preds.key
        except Exception as e:  # noqa: BLE001 (the evaluate job builds it, and raises what stops it)
            log.warning("epoch %s was not evaluated in the training job (its evaluate job will do it): %s: %s",
                        epoch, type(e).__name__, e)
            done[str(epoch)] = f"{type(e).__name__}: {e}"
    return done


def evaluate_benchmarks(store: Store, suite: Artifact, sft: Artifact, prediction_files, spec: dict, cell: dict,
                        out: str | Path, *, select_after: int, decide_on: str = "valid", scoring: str = "careful",
                        reuse_only: bool = False, threads: int | None = None) -> pd.DataFrame:
    """The benchmarks (``study.selected_benchmark_spec``) at the cell's selected epoch, chosen from the
    predictions of its epochs as the tables choose it, labelled with that epoch and written to ``out``
    (``evaluation.benchmarks.epochs: selected``)."""
    from .analysis.tables import selected_epoch

    epoch = selected_epoch(prediction_files, select_after, decide_on, scoring)
    return evaluate_checkpoint(store, suite, sft, epoch, spec, cell, out, reuse_only, threads)


def has_chat_tokens(model_dir: str | Path) -> bool:
    from transformers import AutoTokenizer

    from .models.chat import ASSISTANT, EOT, USER

    vocab = AutoTokenizer.from_pretrained(model_dir).get_vocab()
    return all(t in vocab for t in (USER, ASSISTANT, EOT))


def base_eval_spec(spec: dict, model_dir: Path) -> dict:
    """The predictions spec of an untuned base model (its key's spec; the workflow plans it too).

    With ``plain_prompt`` in the spec (``evaluation.base_prompt.format: plain``) the model is prompted in
    plain text, as it is (``evaluate.prompts.PlainPrompts``). In the chat format, a base model whose
    tokenizer lacks the speaker tokens (any real HF model) gets them added and its embeddings resized
    (seeded), as SFT does before its first step.
    """
    if "plain_prompt" not in spec and not has_chat_tokens(model_dir):
        spec = {**spec, "add_chat_tokens": True}
    return spec


def evaluate_base(store: Store, suite: Artifact, base: Artifact, spec: dict, cell: dict,
                  out: str | Path, reuse_only: bool = False, threads: int | None = None) -> pd.DataFrame:
    """Predictions of the untuned base model (``base_eval_spec``), labelled as its cell's epoch 0,
    written to ``out``."""
    path = check_model_dir(base.path)
    preds = build_predictions(store, path, base.key, suite, base_eval_spec(spec, path), reuse_only, model=base,
                              threads=threads)
    return _labelled(preds, cell, 0, out)


def _labelled(preds: Artifact, cell: dict, epoch: int, out: str | Path) -> pd.DataFrame:
    import pandas as pd

    df = pd.read_parquet(preds.path / "predictions.parquet")
    for k, v in cell.items():
        df[k] = v
    df["epoch"] = epoch
    df["predictions_key"] = preds.key
    write_parquet_atomic(df, out)
    return df
