"""A study planned against the store: the key of each job's artifact, known before anything runs,
and which jobs take their artifact from the store instead of building it.

Why at planning time. A training job on the paper's settings asks SLURM for 8 GPUs, 400 GB and 12 h.
If its cell is already in the store (another study trained it), submitting it only to write a receipt
costs a queue wait and an allocation, and a job whose artifact another study is building would hold
its GPUs while it waits on the store's lock. So the workflow computes, when it builds the DAG, the key
each job's artifact will have (the same ``artifacts.*_request`` functions the builds use: same inputs,
same key) and asks the store. A job whose artifact is there, or is being built by another run right
now, is produced by the rule's local twin (``reuse_*`` in ``workflow/rules/reuse.smk``): it runs where
snakemake runs, takes no cluster allocation, and waits there when the artifact is still being built.

How Snakemake picks the rule, per job. Each ``reuse_*`` rule is ``use rule X as reuse_X`` with the
same input, params and log (so switching between the two for a finished job never looks like a change
to Snakemake's rerun triggers), ``ruleorder: reuse_X > X``, and an output pattern whose first wildcard
only matches the jobs planned for reuse (``wildcard_constraint``). For any other job only ``X``
matches. Both rules run the same script; under a ``reuse_*`` rule it never builds
(``store.reuse_only``): if the artifact has vanished since planning it stops and says so.

What is not planned. A guideline cell's training set comes from a recipe the study derives while it
runs, so its key is unknown when the study is planned: it runs as a cluster job (which finds its
artifact in the store if it is there). Keys that cannot be computed (data not there yet: a demo suite
not generated yet, a dry run of a study whose data is elsewhere) plan nothing: the jobs build.

Also here: ``external_digest``, the content digest of the files a job reads from outside the store,
which each rule has among its params, so that Snakemake re-runs exactly the jobs whose external inputs
changed (a generated suite lives in the store and is fixed by its own params, so it has none).
"""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from pathlib import Path

from . import artifacts, study
from .store import Store, artifact_key, canonical_json

log = logging.getLogger(__name__)

NEVER = "(?!)"  # a wildcard constraint that matches nothing


def wildcard_constraint(first: str, rest: str, rows: list[dict]) -> str:
    """A regex for the first wildcard (``first``) of an output pattern that matches only the given
    jobs: each alternative is one job's value, followed (lookahead) by the rest of its path, ``rest``
    formatted with the job's wildcards (e.g. ``/{cell}.json`` after ``{model_size}``)."""
    if not rows:
        return NEVER
    alternatives = sorted({re.escape(r[first]) + "(?=" + re.escape(rest.format(**r)) + "$)" for r in rows})
    return "(?:" + "|".join(alternatives) + ")"


def only(pattern: str, rows: list[dict]) -> str:
    """An output pattern (``a/{x}/{y}.json``) whose first wildcard matches only the jobs ``rows``
    (their wildcards): ``a/{x,REGEX}/{y}.json``."""
    m = re.search(r"\{(\w+)\}", str(pattern))
    first, rest = m.group(1), str(pattern)[m.end():]
    return f"{str(pattern)[:m.start()]}{{{first},{wildcard_constraint(first, rest, rows)}}}{rest}"


# The rules with a local twin in rules/reuse.smk: a job whose artifact is in the store runs as its twin.
REUSABLE = ("subset", "base_model", "train_cell", "evaluate_checkpoint", "evaluate_base")


class Plan:
    """Keys of a study's artifacts as far as they can be computed now (None where they cannot)."""

    def __init__(self, config: dict):
        self.config = config
        self.store = Store(config["store_dir"])
        self.fp = self.store.fingerprints()
        self.external = bool(config["data"].get("source_dir"))
        self.cells = study.cell_index(config)
        self.subsets = study.subset_cells(config)
        self._eval_inputs: dict[str, dict] = {}
        # The suite's directory, if it is there now (a demo suite is there once generated).
        if self.external:
            root = Path(config["data"]["source_dir"])
        else:
            root = self.store.path("suite", artifact_key("suite", study.suite_spec(config)))
        self.root = root if root.is_dir() else None

    def _try(self, what: str, compute):
        try:
            return compute()
        except Exception as e:  # noqa: BLE001  missing or bad data: nothing planned, the job reports it
            log.debug("planning %s: %s", what, e)
            return None

    # ------------------------------------------------------------------------- artifact keys
    @cache  # noqa: B019  (one Plan per Snakefile parse)
    def subset(self, name: str) -> artifacts.Request | None:
        cell = self.subsets.get(name)
        if cell is None or study.is_guideline(cell) or self.root is None:
            return None
        spec = study.subset_spec(self.config, cell)
        return self._try(f"subset {name}", lambda: artifacts.subset_request(self.root, spec, self.fp))

    @cache  # noqa: B019
    def tokenizer(self) -> artifacts.Request | None:
        if self.root is None:
            return None
        spec = study.tokenizer_spec(self.config)
        return self._try("tokenizer", lambda: artifacts.tokenizer_request(self.root, spec, self.fp))

    @cache  # noqa: B019
    def base(self, model_size: str) -> artifacts.Request | None:
        spec = study.base_spec(self.config, model_size)
        if "path" in spec:
            if not Path(spec["path"]).is_dir():
                return None
            return self._try(f"base model {model_size}", lambda: artifacts.base_request(None, None, spec, self.fp))
        tokenizer = self.tokenizer()
        if tokenizer is None:
            return None
        return self._try(f"base model {model_size}",
                         lambda: artifacts.base_request(self.root, tokenizer.key, spec, self.fp))

    @cache  # noqa: B019
    def sft(self, model_size: str, name: str) -> artifacts.Request | None:
        base, subset = self.base(model_size), self.subset(name)
        if base is None or subset is None:
            return None
        cell = self.cells[(model_size, name)]
        return artifacts.sft_request(base.key, subset.key, study.sft_spec(self.config, model_size, cell.seed))

    @cache  # noqa: B019
    def predictions(self, model_size: str, name: str, epoch: int) -> artifacts.Request | None:
        sft = self.sft(model_size, name)
        if sft is None:
            return None
        spec = study.eval_spec(self.config, self.cells[(model_size, name)], epoch)
        data = self._eval_data(canonical_json(spec))
        if data is None:
            return None
        return artifacts.predictions_request(self.root, artifacts.checkpoint_key(sft.key, epoch), spec, self.fp, data)

    @cache  # noqa: B019
    def base_predictions(self, model_size: str) -> artifacts.Request | None:
        """The untuned base model's predictions (``grid.evaluate_base``); planned only once the base
        model is in the store (a chat-format spec depends on its tokenizer)."""
        base = self.base(model_size)
        if base is None or not self.store.exists(base.kind, base.key):
            return None
        cell = study.Cell(model_size, study.BASE, 0, 0)
        spec = study.eval_spec(self.config, cell, 0)
        given = study.base_spec(self.config, model_size)  # a local directory is used in place
        model_dir = Path(given["path"]).resolve() if "path" in given else self.store.path(base.kind, base.key)
        spec = self._try(f"base model {model_size}'s evaluation", lambda: artifacts.base_eval_spec(spec, model_dir))
        data = None if spec is None else self._eval_data(canonical_json(spec))
        if data is None:
            return None
        return artifacts.predictions_request(self.root, base.key, spec, self.fp, data)

    @cache  # noqa: B019
    def _eval_data(self, spec_json: str):
        """The fingerprint of what an evaluation spec reads (the same for every checkpoint)."""
        spec = json.loads(spec_json)
        return self._try("eval sets", lambda: self.fp.fingerprint(artifacts.predictions_files(self.root, spec)))

    def keys(self) -> set[str]:
        """Every artifact key the plan can compute now: what a running study holds in the store
        (``store.hold_plan``), so that ``store gc`` does not delete what it will read."""
        requests = [self.tokenizer()]
        requests += [self.base(ms) for ms in study.model_sizes(self.config)]
        requests += [self.base_predictions(ms) for ms in study.model_sizes(self.config)]
        requests += [self.subset(n) for n in self.subsets]
        requests += [self.sft(ms, n) for ms, n in self.cells]
        requests += [self.predictions(c.model_size, c.name, e)
                     for c, e in study.evaluations(self.config) + study.guideline_evaluations(self.config) if c.trains]
        keys = {r.key for r in requests if r is not None}
        if not self.external:  # a generated suite is an artifact of its own
            keys.add(artifact_key("suite", study.suite_spec(self.config)))
        return keys

    # ------------------------------------------------------------------------- reuse
    def _found(self, request: artifacts.Request | None) -> bool:
        return request is not None and self.store.state(request.kind, request.key) is not None

    def reusable(self, rule: str) -> list[dict]:  # rule: one of REUSABLE
        """Wildcards of the jobs of ``rule`` whose artifact is in the store or being built now."""
        if rule == "subset":
            return [{"cell": n} for n in sorted(self.subsets) if self._found(self.subset(n))]
        if rule == "base_model":
            return [{"model_size": ms} for ms in study.model_sizes(self.config) if self._found(self.base(ms))]
        if rule == "train_cell":
            return [{"model_size": ms, "cell": n} for ms, n in sorted(self.cells) if self._found(self.sft(ms, n))]
        if rule == "evaluate_checkpoint":
            return [{"model_size": c.model_size, "cell": c.name, "epoch": str(e)}
                    for c, e in study.evaluations(self.config) + study.guideline_evaluations(self.config)
                    if c.trains and self._found(self.predictions(c.model_size, c.name, e))]
        if rule == "evaluate_base":
            return [{"model_size": ms} for ms in study.model_sizes(self.config)
                    if self._found(self.base_predictions(ms))]
        raise KeyError(f"no reuse planned for rule {rule!r}")

    # ------------------------------------------------------------------------- params
    def _digest(self, what: str, files) -> str | None:
        """The digest of ``files`` ({label: path}, or a function of the suite's directory giving them)."""
        if callable(files):
            if self.root is None:
                return None
            files = self._try(what, lambda: files(self.root))
        if not files:
            return None
        return self._try(what, lambda: self.fp.fingerprint(files).digest)

    def _suite_digest(self, what: str, files) -> str | None:
        # A generated suite lives in the store and is fixed by the suite rule's own params.
        return self._digest(what, files) if self.external else None

    @cache  # noqa: B019
    def subset_inputs(self, name: str) -> dict:
        """Content of what a subset job reads from outside the store: its pools, and the held-out sets
        its leakage check reads."""
        request = self.subset(name)
        leakage = study.leakage_mode(self.config) != "off"
        return {"pools": request.inputs["data"] if self.external and request is not None else None,
                "held_out": self._suite_digest("held-out sets", artifacts.held_out_files) if leakage else None}

    @cache  # noqa: B019
    def tokenizer_inputs(self) -> str | None:
        return self._suite_digest("tokenizer texts", artifacts.tokenizer_files)

    @cache  # noqa: B019
    def base_inputs(self, model_size: str) -> str | None:
        """A local model directory's content (always outside the store), or the suite's corpus."""
        spec = study.base_spec(self.config, model_size)
        if "path" in spec:
            request = self.base(model_size)
            return request.inputs["data"] if request is not None else None
        return self._suite_digest("corpus", lambda root: {str(artifacts.CORPUS_FILE): root / artifacts.CORPUS_FILE})

    def eval_inputs(self, spec: dict) -> dict:
        """An evaluation's eval sets (from the suite) and benchmark files (always outside the store)."""
        key = canonical_json(spec)
        if key not in self._eval_inputs:
            sets = {**spec, "benchmarks": {}}
            self._eval_inputs[key] = {
                "sets": self._suite_digest("eval sets", lambda root: artifacts.predictions_files(root, sets)),
                "benchmarks": self._digest("benchmarks", self._try("benchmarks", lambda: artifacts.benchmark_files(spec)))}
        return self._eval_inputs[key]

    @cache  # noqa: B019
    def analysis_inputs(self) -> str | None:
        """The analysis reads the test sets (complexity proxies) and the pool sizes."""
        spec = study.analysis_spec(self.config)

        def files(root):
            pools = artifacts.pool_paths(root, spec["pool"], spec["abilities"])
            tests = {a: artifacts.doit_file(root, "test", a) for a in spec["abilities"]}
            return artifacts.labelled(root, [*pools.values(), *tests.values()])
        return self._suite_digest("analysis inputs", files)
