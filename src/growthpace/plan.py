"""``growthpace plan``: the bill of a study before it runs: jobs, device hours, disk and memory.

Nothing is loaded but configs and data files (no weights); every figure is printed with what it assumes.

- **Jobs per rule**, counted from the grid (``study``: the same cells the workflow expands), and how many
  of them the store already holds (``reuse.Plan``, the workflow's own planning: those jobs only write a
  receipt, as their ``reuse_*`` rule does, and cost nothing).
- **Tokens.** A cell trains on ``items x repeats`` items per epoch (``train.settings.plan_repeats``, as
  the run repeats them) for every epoch. Its tokens per item come from its training set when the store
  holds it, else from the mean of its pools; a message is its speaker token, its characters times the
  tokenizer's tokens per character (1 for the demo's character tokenizer, ``TOKENS_PER_CHAR`` for a
  model's own), and ``<eot>``, cut at ``max_len``. Without the data (a study whose data lives on a
  cluster), ``DEFAULT_ITEM`` holds. Evaluation: per checkpoint, the prompts, gold outputs and ranked
  candidates it scores and the tokens it generates (each generated item's full budget: a batch decodes
  until its longest item stops), and the benchmarks' items at the epochs that run them.
- **Device hours** from those tokens and the parameters of each size (``throughput.Rates``).
- **Disk**: a cell keeps a weights-only snapshot per epoch in its training dtype (bf16 or fp16 when
  trained so, fp32 otherwise) and, while it runs, one resume state (``resume_bytes``: the weights,
  DeepSpeed's copy of them, fp32 master weights and two fp32 AdamW moments). Total when done, and the
  peak while the largest ``running`` cells train at once, against the free space where ``store_dir``
  lives (its nearest existing parent). With ``training.keep_epochs: all`` the plan says what ``selected`` would free.
- **Memory**: ``train.memory_plan`` as it was (its warnings included).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import reuse, study
from .models.chat import CHAT_TOKENS
from .throughput import DEFAULT_RATES, Rates
from .train.settings import SFTSettings, plan_repeats

# Tokens per character of a model's own tokenizer (Chinese-LLaMA's 49,953 pieces: about 1.4 characters
# per token on Chinese text); the demo's tokenizer is character level.
TOKENS_PER_CHAR = {"char": 1.0, "model": 0.7}
# An item when the data is not here: DoIT's curated items (a question of a few sentences, an answer of
# a paragraph), its eval sets, and the pool sizes that the paper's recipes draw on (reconstruct's table
# gives biology's 1,041 in curated/full; the others make maximum's ~39,600 items).
DEFAULT_ITEM = {"train_tokens": 300, "prompt_tokens": 150, "gold_tokens": 150, "eval_items_per_set": 100,
                "ood_items": 40, "ood_prompt_tokens": 900, "ranked_choices": 3}
DEFAULT_POOLS = {"biology": 1041, "history": 6238, "code": 6238, "creative_writing": 1000, "chinese": 6238,
                 "understanding": 6239, "role_play": 64, "reasoning": 6239, "math": 6239, "ethics": 64}
DEFAULT_SYNTHETIC_POOL = 40960
RANKED_ABILITIES = ("code", "creative_writing", "role_play")  # question_format 1 in DoIT
# Benchmarks (first-token items, no generation): CMMLU's test set, AGIEval's ten Chinese multiple-choice
# sets (evaluate.agieval); prompt tokens zero-shot and few-shot (five solved items ahead).
BENCHMARK_ITEMS = {"cmmlu": 11528, "agieval": 4299}
BENCHMARK_PROMPT_TOKENS = {0: 150, "zero-shot": 150, 5: 900, "few-shot": 900}


DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}
DEFAULT_RUNNING = 8  # cells training at once for the disk peak (one per node of an 8-node allocation)


@dataclass
class CellBill:
    model_size: str
    name: str
    items: int
    repeats: int
    epochs: int
    train_tokens: float       # every epoch
    in_store: bool
    kept_bytes: int           # every epoch's snapshot
    selected_bytes: int       # with keep_epochs: selected
    resume_bytes: int
    keep: str = "all"         # its training.keep_epochs


@dataclass
class SizeBill:
    size: str
    parameters: int
    parameters_from: str
    stored_values: int = 0    # values a weights file holds (a tied output layer twice)
    cells: int = 0
    train_tokens: float = 0.0
    train_hours: float = 0.0
    checkpoints: int = 0
    scored_tokens: float = 0.0
    generated_tokens: float = 0.0
    eval_hours: float = 0.0
    gpus_train: int = 0
    gpus_eval: int = 0


@dataclass
class StudyPlan:
    study: str
    jobs: dict[str, dict]                 # rule -> {"jobs": n, "in_store": k}
    sizes: list[SizeBill]
    cells: list[CellBill]
    rates: Rates
    free_bytes: int | None
    store_dir: str
    running: int
    assumptions: list[str] = field(default_factory=list)
    memory: list = field(default_factory=list)
    memory_text: str = ""
    warnings: list[str] = field(default_factory=list)
    # device-seconds per rule (overheads included) of the jobs still to run: a device is a GPU, or one
    # CPU core when the rates are a CPU's (benchmarks/plan_vs_measured.py sets them beside a run's)
    rule_seconds: dict[str, float] = field(default_factory=dict)
    # model FLOPs (training, scoring, generating) of each job still to run, keyed by its rule and its
    # wildcards' values in the order of the rule's output path
    job_flops: dict[tuple, tuple[float, float, float]] = field(default_factory=dict)

    @property
    def total_jobs(self) -> int:
        return sum(r["jobs"] for r in self.jobs.values())

    @property
    def jobs_in_store(self) -> int:
        return sum(r["in_store"] for r in self.jobs.values())

    def kept_bytes(self, keep: str | None = None) -> int:
        """Bytes the study's cells keep when done: as each cell's keep_epochs says, or as ``keep`` says for all."""
        return sum(c.kept_bytes if (keep or c.keep) == "all" else c.selected_bytes
                   for c in self.cells if not c.in_store)

    def peak_bytes(self, keep: str | None = None) -> int:
        """Every epoch snapshot is on disk until its cell's selection (tables) runs, so the peak is the
        whole study's snapshots plus the resume states of the largest cells running at once."""
        todo = [c for c in self.cells if not c.in_store]
        resume = sorted((c.resume_bytes for c in todo), reverse=True)[:self.running]
        return sum(c.kept_bytes for c in todo) + sum(resume)

    @property
    def gpu_hours(self) -> float:
        return sum(s.train_hours + s.eval_hours for s in self.sizes)


# ----------------------------------------------------------------------------- jobs
def job_counts(config: dict, planned: reuse.Plan) -> dict[str, dict]:
    """Jobs of every rule of the workflow for the whole study, and how many the store already holds."""
    sizes = study.model_sizes(config)
    guideline = study.guideline_settings(config)["enabled"]
    evaluations = study.evaluations(config) + study.guideline_evaluations(config)
    trained = [(c, e) for c, e in evaluations if c.trains]
    rows = {
        "suite": 1,
        "tokenizer": int(any(study.needs_tokenizer(config, ms) for ms in sizes)),
        "base_model": len(sizes),
        "subset": len(study.subset_cells(config)),
        "train_cell": len(study.cell_index(config)),
        "evaluate_checkpoint": len(trained),
        "evaluate_base": len(study.base_cells(config)),
        # evaluation.benchmarks.epochs: selected: each benchmarked cell once more, at its selected epoch
        "evaluate_benchmarks": sum(bool(study.selected_benchmark_spec(config, c))
                                   for c in study.training_cells(config) + study.guideline_cells(config)),
        "tables": 1, "plot_growth": 1, "summary": 1, "derive_recipe": int(guideline),
        "guideline_tables": int(guideline),
        "analysis": 1, "analysis_plots": 1, "report_md": 1,
        "keep_epochs": int(any(study.keep_epochs(config, ms) == "selected" for ms in sizes)),
        "all": 1,
    }
    stored = {rule: len(planned.reusable(rule)) for rule in reuse.REUSABLE}
    return {rule: {"jobs": n, "in_store": stored.get(rule, 0)} for rule, n in rows.items() if n}


# ----------------------------------------------------------------------------- data
class Data:
    """What the plan knows of a study's data: its files when they are here, else ``DEFAULT_ITEM``."""

    def __init__(self, config: dict, planned: reuse.Plan):
        self.config, self.planned, self.root = config, planned, planned.root
        self.abilities = list(config["data"]["abilities"])
        self._pools: dict = {}
        self._scratch = None
        if self.root is None and not config["data"].get("source_dir"):
            # a demo suite not generated yet: generated here, in a second, into a temporary directory
            import tempfile

            from .data import demo

            self._scratch = tempfile.TemporaryDirectory(prefix="growthpace-plan-")
            self.root = Path(self._scratch.name)
            demo.generate_suite(self.root, **study.suite_spec(config)["demo"])

    def tokens_per_char(self, model_size: str) -> float:
        spec = config_size(self.config, model_size)
        return TOKENS_PER_CHAR["model" if "path" in spec else "char"]

    @staticmethod
    def chars(record: dict) -> list[int]:
        return [len(m["content"].strip()) for m in record["messages"]]

    def item_tokens(self, record: dict, tpc: float, max_len: int) -> float:
        return min(max_len, sum(2 + n * tpc for n in self.chars(record)))

    def pool(self, source: str) -> list[dict]:
        """Curated pools (``curated/1000`` and ``full``) or the synthetic pool, as records."""
        if source not in self._pools:
            from .data.loaders import load_synthetic, load_train_pools

            if source == "synthetic":
                self._pools[source] = load_synthetic(self.root)
            else:
                self._pools[source] = [r for pool in load_train_pools(self.root, source, self.abilities).values()
                                       for r in pool]
        return self._pools[source]

    def subset_records(self, name: str) -> list[dict] | None:
        """The training set of a cell, when the store holds it."""
        from .data.loaders import load_jsonl

        request = self.planned.subset(name)
        if request is None or self.planned.store.state("subset", request.key) != "done":
            return None
        return load_jsonl(self.planned.store.path("subset", request.key) / "train.jsonl")

    def recipe_items(self, cell: study.Cell) -> tuple[int, int]:
        """(curated, synthetic) items of a recipe cell."""
        from .data.recipes import parse_recipe

        recipe = parse_recipe(study.cell_recipe(self.config, cell), self.abilities)
        if self.root is not None:
            from .data.loaders import load_train_pools

            sizes = {a: len(p) for a, p in load_train_pools(self.root, recipe.pool_split, self.abilities).items()}
            synthetic = len(self.pool("synthetic")) if (self.root / "synthetic").is_dir() else None
        else:
            full = {a: DEFAULT_POOLS.get(a, 1000) for a in self.abilities}
            # DoIT's curated/1000 holds 1,000 items of every ability (role-play and ethics too)
            sizes = full if recipe.pool_split == "full" else {a: 1000 for a in self.abilities}
            synthetic = DEFAULT_SYNTHETIC_POOL
        cap = bool(self.config["data"].get("cap_to_pool", False))
        resolved = recipe.resolve(sizes, synthetic, cap)
        return sum(resolved.counts.values()), resolved.synthetic

    def cell_tokens_per_epoch(self, cell: study.Cell, settings: dict) -> tuple[int, float]:
        """(items, tokens of one pass over them) of a training cell."""
        tpc, max_len = self.tokens_per_char(cell.model_size), settings["max_len"]
        records = self.subset_records(cell.name) if self.root is not None else None
        if records is not None:
            return len(records), sum(self.item_tokens(r, tpc, max_len) for r in records)
        if study.is_guideline(cell):  # derived from the grid's results: its budget of curated items
            curated, synthetic = study.guideline_settings(self.config)["budget"], 0
        elif cell.data_source == study.RECIPE:
            curated, synthetic = self.recipe_items(cell)
        elif cell.data_source == "synthetic":
            curated, synthetic = 0, cell.data_size
        else:
            curated, synthetic = cell.data_size, 0
        return curated + synthetic, curated * self.mean_tokens("1000", tpc, max_len) + \
            synthetic * self.mean_tokens("synthetic", tpc, max_len)

    def mean_tokens(self, source: str, tpc: float, max_len: int) -> float:
        if self.root is None:
            return min(max_len, DEFAULT_ITEM["train_tokens"])
        pool = self.pool(source)
        return sum(self.item_tokens(r, tpc, max_len) for r in pool) / max(1, len(pool))

    def eval_tokens(self, spec: dict, model_size: str) -> tuple[float, float]:
        """(scored, generated) tokens of one evaluation with ``spec`` (one checkpoint)."""
        from .evaluate.run import DEFAULT_MAX_NEW_TOKENS

        budgets = {**DEFAULT_MAX_NEW_TOKENS, **(spec.get("max_new_tokens") or {})}
        tpc = self.tokens_per_char(model_size)
        scored = generated = 0.0
        for records in self.eval_sets(spec):
            for r in records:
                s, g = self.eval_item(r, budgets, tpc)
                scored, generated = scored + s, generated + g
        for name, bench in (spec.get("benchmarks") or {}).items():
            if not isinstance(bench, dict):  # max_tokens
                continue
            shots = bench.get("shots") or bench.get("settings") or [0]
            per_item = sum(BENCHMARK_PROMPT_TOKENS.get(s, 150) for s in shots)
            scored += BENCHMARK_ITEMS.get(name, 0) * per_item
        return scored, generated

    def eval_sets(self, spec: dict):
        if self.root is None:
            n = DEFAULT_ITEM["eval_items_per_set"]
            for _ in spec["splits"]:
                for a in spec["abilities"]:
                    yield [{"_default": a}] * n
            if spec.get("ood") and "test" in spec["splits"]:
                yield [{"_default": "ood"}] * (3 * DEFAULT_ITEM["ood_items"])
            return
        from .data.loaders import load_doit_ood, load_doit_split

        for split in spec["splits"]:
            yield from load_doit_split(self.root, split, spec["abilities"]).values()
        if spec.get("ood") and "test" in spec["splits"]:
            yield from load_doit_ood(self.root).values()

    @staticmethod
    def eval_item(r: dict, budgets: dict, tpc: float) -> tuple[float, float]:
        """(scored, generated) tokens of one eval item: its prompt and gold are scored; a ranked item's
        other candidates too; a generated item decodes its kind's whole budget."""
        if "_default" in r:
            d, ability = DEFAULT_ITEM, r["_default"]
            prompt = d["ood_prompt_tokens"] if ability == "ood" else d["prompt_tokens"]
            if ability in RANKED_ABILITIES:
                return prompt + d["ranked_choices"] * d["gold_tokens"], 0.0
            kind = "math" if ability == "math" else "multi_select" if ability == "ethics" else "single_choice"
            return prompt + d["gold_tokens"], float(budgets.get(kind, 12))
        from .evaluate.scorers import item_kind

        *context, gold = [2 + n * tpc for n in Data.chars(r)]
        prompt = sum(context) + 1
        kind = item_kind(r)
        if kind == "ranking":  # the prompt once, then every choice (gold first) and its <eot>
            choices = r.get("choices") or []
            scored = sum(1 + len(str(c).strip()) * tpc for c in choices) or DEFAULT_ITEM["ranked_choices"] * gold
            return prompt + scored, 0.0
        return prompt + gold, float(budgets.get(kind, 12))


def config_size(config: dict, model_size: str) -> dict:
    return config["models"]["sizes"].get(model_size) or {}


# ----------------------------------------------------------------------------- parameters, bytes
def parameters(config: dict, planned: reuse.Plan, model_size: str) -> tuple[int, int, str]:
    """(parameters, values a weights file stores, where the shape came from) of a size once fine-tuned,
    from a config.json (no weights): the base model in the store, the size's ``path``, the LLaMA-1 table
    or its ``arch``. A model from a path gains the chat tokens and a pad token (``models.chat``); a tiny
    model's tokenizer has them from the start. A snapshot stores a tied output layer as a tensor of its own."""
    from transformers import AutoConfig

    from .train.memory_plan import count_parameters, model_config

    spec = config_size(config, model_size)
    request = None if "path" in spec else planned.base(model_size)
    where = planned.store.path("base_model", request.key) if request is not None else None
    if where is not None and (where / "config.json").is_file():
        cfg, source = AutoConfig.from_pretrained(where), "the base model's config.json in the store"
    else:
        cfg, source = model_config(spec, model_size)
    added = len(CHAT_TOKENS) + 1 if "path" in spec else 0
    cfg.vocab_size += added
    total, _ = count_parameters(cfg)
    tied = cfg.vocab_size * cfg.hidden_size if getattr(cfg, "tie_word_embeddings", False) else 0
    return total, total + tied, source


def training_dtype_bytes(config: dict, model_size: str, on_gpu: bool) -> int:
    precision = study.sft_settings(config, model_size)["precision"]
    if precision == "auto":
        precision = "bf16" if on_gpu else "fp32"
    return DTYPE_BYTES[precision]


def resume_bytes(engine: str, stored_values: int, parameters: int, dtype: int) -> int:
    """A cell's resume state (its last Trainer checkpoint): the weights file; under DeepSpeed also the
    engine's copy of the module and its optimizer partitions (fp32 master weights, even for fp32 training,
    and two fp32 AdamW moments); under the plain Trainer the two moments. Measured on the smoke run's
    cells within 15% (the rest: tokenizer, trainer state, RNG states)."""
    weights = stored_values * dtype
    return weights + parameters * (dtype + 12 if engine == "deepspeed" else 8)


def planned_kept(config: dict, cell: study.Cell) -> int:
    """Snapshots a cell keeps under keep_epochs: selected, before its selection is known: the benchmarked
    epochs and the selected one (counted apart: it may be another)."""
    n = len(study.epochs(config, cell.model_size))
    return min(n, len(study.kept_epochs(config, cell, None)) + 1)


# ----------------------------------------------------------------------------- the plan
def plan_study(config: dict, rates: Rates = DEFAULT_RATES, running: int = DEFAULT_RUNNING,
               gpu_memory_gib: float = 80.0, memory: bool = True, fresh: bool = False) -> StudyPlan:
    """The plan of a study against its store (``fresh``: as if the store held none of its artifacts,
    though what it holds still gives exact training sets and parameter counts)."""
    from .train.memory_plan import format_plan, memory_plan

    planned = reuse.Plan(config)
    data = Data(config, planned)
    seconds: dict[str, float] = {}
    flops: dict[tuple, tuple[float, float, float]] = {}

    def spend(job: tuple, params: int, devices: int, train: float = 0.0, scored: float = 0.0,
              generated: float = 0.0) -> float:
        """Hours of one job (``job``: its rule and wildcards) from its tokens; recorded per rule and job."""
        rule = job[0]
        flops[job] = (6 * params * train, 2 * params * scored, 2 * params * generated)
        device_seconds = rates.train_seconds(params, train) + rates.eval_seconds(params, scored, generated)
        total = device_seconds + rates.overhead(rule) * max(1, devices)
        seconds[rule] = seconds.get(rule, 0.0) + total
        return total / 3600

    sizes: dict[str, SizeBill] = {}
    reused_bases = set() if fresh else {r["model_size"] for r in planned.reusable("base_model")}
    for ms in study.model_sizes(config):
        n, stored_values, source = parameters(config, planned, ms)
        sizes[ms] = SizeBill(ms, n, source, stored_values,
                             gpus_train=study.job_resources(config, ms, "train")["gpus"],
                             gpus_eval=study.job_resources(config, ms, "evaluate")["gpus"])
        pretrain = config_size(config, ms).get("pretrain")
        if pretrain and ms not in reused_bases:  # a tiny model pretrained here (its tokens: steps x batch x length)
            tokens = pretrain["steps"] * pretrain["batch_size"] * pretrain["seq_len"]
            spend(("base_model", ms), n, 1, train=tokens)
    stored = set() if fresh else {(r["model_size"], r["cell"]) for r in planned.reusable("train_cell")}
    cells = []
    for (ms, name), cell in sorted(study.cell_index(config).items()):
        s, settings = sizes[ms], study.sft_settings(config, ms)
        # a recipe equal to a plain cell (baseline = curated-10000) finds that cell's model in the store
        shared = study.equivalent_plain_cell(config, cell) is not None
        items, per_epoch = data.cell_tokens_per_epoch(cell, settings)
        repeats = plan_repeats(items, SFTSettings(**settings)) if items else 1
        tokens = per_epoch * repeats * settings["epochs"]
        dtype = training_dtype_bytes(config, ms, s.gpus_train > 0)
        in_store = (ms, name) in stored or (shared and not fresh)
        epoch_bytes = s.stored_values * dtype
        cells.append(CellBill(ms, name, items, repeats, settings["epochs"], tokens, in_store,
                              kept_bytes=epoch_bytes * settings["epochs"],
                              selected_bytes=epoch_bytes * planned_kept(config, cell),
                              keep=study.keep_epochs(config, ms),
                              resume_bytes=resume_bytes(settings["engine"], s.stored_values, s.parameters, dtype)))
        s.cells += 1
        if not in_store:
            s.train_tokens += tokens
            # model FLOPs over one device's rate are device-seconds whatever the number of devices;
            # the overhead holds every device of the job
            s.train_hours += spend(("train_cell", ms, name), s.parameters, s.gpus_train, train=tokens)
    reused_evals = set() if fresh else {(r["model_size"], r["cell"], int(r["epoch"]))
                                        for r in planned.reusable("evaluate_checkpoint")}
    eval_cache: dict = {}
    for cell, epoch in study.evaluations(config) + study.guideline_evaluations(config):
        s = sizes[cell.model_size]
        s.checkpoints += 1
        if (cell.model_size, cell.name, epoch) in reused_evals:
            continue
        spec = study.eval_spec(config, cell, epoch)
        key = (cell.model_size, repr(spec))
        if key not in eval_cache:
            eval_cache[key] = data.eval_tokens(spec, cell.model_size)
        scored, generated = eval_cache[key]
        s.scored_tokens += scored
        s.generated_tokens += generated
        rule = "evaluate_checkpoint" if cell.trains else "evaluate_base"
        job = (rule, cell.model_size, cell.name, str(epoch)) if cell.trains else (rule, cell.model_size)
        s.eval_hours += spend(job, s.parameters, s.gpus_eval, scored=scored, generated=generated)
    result = StudyPlan(config["study"], job_counts(config, planned), list(sizes.values()), cells, rates,
                       free_space(config["store_dir"]), config["store_dir"], running, rule_seconds=seconds,
                       job_flops=flops)
    if study.adaptive_settings(config):
        result.assumptions.append("an adaptive study: every candidate cell counted (the rounds train a part of them)")
    if rates.source == "default" and any(s.gpus_train == 0 or s.gpus_eval == 0 for s in sizes.values()):
        result.assumptions.append("jobs without GPUs are costed at the GPU rates; benchmarks/calibrate_cpu.py "
                                  "writes CPU rates (a device is then one core)")
    if data.root is None:
        result.assumptions.append(f"data not here: {DEFAULT_ITEM['train_tokens']} tokens per training item, "
                                  f"{DEFAULT_ITEM['eval_items_per_set']} items per eval set, and DoIT's pool "
                                  "sizes for the recipes (growthpace.plan.DEFAULT_ITEM, DEFAULT_POOLS)")
    if rates.source == "default":
        result.assumptions.append(f"rates assumed ({rates.device}: {rates.peak_tflops:g} TFLOP/s, MFU "
                                  f"{rates.mfu_train:.0%} training, {rates.mfu_score:.0%} scoring, "
                                  f"{rates.mfu_decode:.0%} generating); --rates FILE from benchmarks/gpu_check.py "
                                  "or benchmarks/calibrate_cpu.py replaces them")
    if memory:
        result.memory = memory_plan(config, gpu_memory_gib)
        result.memory_text = format_plan(result.memory, config["study"], gpu_memory_gib)
        result.warnings += [w for p in result.memory for w in p.warnings]
    if result.free_bytes is not None and result.peak_bytes() > result.free_bytes:
        result.warnings.append(f"disk: the study's peak ({result.peak_bytes() / 1e12:.2f} TB) is more than the "
                               f"{result.free_bytes / 1e12:.2f} TB free where store_dir ({config['store_dir']}) lives")
    return result


def free_space(store_dir: str) -> int | None:
    """Free bytes on the file system of ``store_dir`` (or of its nearest parent that exists)."""
    path = Path(store_dir).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


# ----------------------------------------------------------------------------- printing
def human_bytes(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def count(n: float) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e8 else f"{n / 1e6:.2f}M"


def format_study_plan(p: StudyPlan) -> str:
    r = p.rates
    lines = [f"Plan of study {p.study!r}", "", f"Jobs: {p.total_jobs}, of which {p.jobs_in_store} in the store "
             "already (they only write a receipt)",
             f"  {'rule':<22}{'jobs':>6}{'in store':>10}"]
    lines += [f"  {rule:<22}{row['jobs']:>6}{row['in_store']:>10}" for rule, row in p.jobs.items()]
    lines += ["", f"Device hours ({r.device}, {r.peak_tflops:g} TFLOP/s; MFU {r.mfu_train:.0%} training, "
                  f"{r.mfu_score:.0%} scoring, {r.mfu_decode:.0%} generating; rates: {r.source})",
              f"  {'size':<6}{'params':>8}{'cells':>6}{'train tokens':>14}{'train h':>10}{'ckpts':>7}"
              f"{'scored':>10}{'generated':>11}{'eval h':>9}"]
    for s in p.sizes:
        lines.append(f"  {s.size:<6}{count(s.parameters):>8}{s.cells:>6}{s.train_tokens:>14.3g}{s.train_hours:>10.1f}"
                     f"{s.checkpoints:>7}{s.scored_tokens:>10.3g}{s.generated_tokens:>11.3g}{s.eval_hours:>9.1f}")
    train_h, eval_h = sum(s.train_hours for s in p.sizes), sum(s.eval_hours for s in p.sizes)
    lines.append(f"  all: {train_h + eval_h:,.1f} device-hours ({train_h:,.1f} training, {eval_h:,.1f} evaluation): "
                 "model FLOPs at the MFU, plus each job's overhead times its devices")
    free = "unknown" if p.free_bytes is None else human_bytes(p.free_bytes)
    keeps = sorted({c.keep for c in p.cells}) or ["all"]
    lines += ["", f"Disk (weights-only snapshots per epoch in the training dtype; keep_epochs: {', '.join(keeps)})",
              f"  kept when done: {human_bytes(p.kept_bytes())}; peak while {p.running} cells train at once "
              f"(resume state included): {human_bytes(p.peak_bytes())}; free at {p.store_dir}: {free}"]
    if p.kept_bytes("selected") < p.kept_bytes():
        lines.append(f"  training.keep_epochs: selected would keep {human_bytes(p.kept_bytes('selected'))} "
                     f"(frees {human_bytes(p.kept_bytes() - p.kept_bytes('selected'))}: each cell keeps its "
                     "selected epoch and the epochs its benchmarks evaluate)")
    per_size: dict[str, list[CellBill]] = {s.size: [] for s in p.sizes}
    for c in p.cells:
        per_size.setdefault(c.model_size, []).append(c)
    for ms, cs in per_size.items():
        if cs:
            lines.append(f"  {ms}: {len(cs)} cells, {human_bytes(cs[0].kept_bytes / cs[0].epochs)} per epoch snapshot, "
                         f"{human_bytes(cs[0].resume_bytes)} resume state")
    if p.assumptions:
        lines += ["", *[f"Assumed: {a}" for a in p.assumptions]]
    if p.memory_text:
        lines += ["", p.memory_text]
    elif p.warnings:
        lines += [f"WARNING: {w}" for w in p.warnings]
    if p.memory_text:
        lines += [f"WARNING: {w}" for w in p.warnings if not any(w in m.warnings for m in p.memory)]
    return "\n".join(lines)


def main(configfiles: list[Path], rates_file: Path | None, gpu_memory_gib: float, running: int) -> int:
    """Print the plan; exit status 1 when something does not fit (memory or disk), 2 on a bad rates file."""
    from .study import load_config

    config = load_config(*configfiles)
    try:
        rates = Rates.load(rates_file) if rates_file else DEFAULT_RATES
    except ValueError as e:
        print(f"growthpace plan: {e}")
        return 2
    p = plan_study(config, rates, running, gpu_memory_gib)
    print(format_study_plan(p))
    return 1 if p.warnings else 0

