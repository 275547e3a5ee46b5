import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def restore_environment():
    """A test that trains in the test process itself (``train_sft``, no launcher) leaves settings in its
    environment: a one-process group (RANK, WORLD_SIZE, MASTER_PORT, a port it listens on) and
    accelerate's ACCELERATE_USE_DEEPSPEED. Inherited by the snakemake runs of later tests, they would send
    a plain Trainer to DeepSpeed and a training to a port in use; so each test gets the environment back."""
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


def write_jsonl(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


@pytest.fixture(scope="session")
def char_tokenizer(tmp_path_factory):
    """A character tokenizer trained on a few Chinese and ASCII lines, saved and reloaded like a real one."""
    from transformers import AutoTokenizer

    from growthpace.models.tokenizer import train_char_tokenizer

    out = tmp_path_factory.mktemp("tok")
    texts = ["生物学研究生命。细胞是生命的基本单位。", "答案：C 正确 错误 \\boxed{42}", "历史上的今天，春风又绿江南岸。", "甲乙：你好，他们在做什么？打招呼"]
    train_char_tokenizer(texts, out)
    return AutoTokenizer.from_pretrained(out)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, char_tokenizer):
    """A randomly initialised tiny LLaMA saved with its tokenizer (safetensors), like any HF model dir."""
    from growthpace.models.tiny import build_model

    out = tmp_path_factory.mktemp("tiny")
    arch = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "intermediate_size": 64}
    model = build_model(arch, len(char_tokenizer), char_tokenizer.pad_token_id, char_tokenizer.eos_token_id, seed=1)
    model.save_pretrained(out, safe_serialization=True)
    char_tokenizer.save_pretrained(out)
    return out


# A LLaMA small enough for 2-process DeepSpeed tests on a CPU in seconds.
LLAMA_SHAPE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
               "intermediate_size": 64}
LLAMA_LAYOUTS = {"bin": ("bin", 1), "bin-sharded": ("bin", 3), "safetensors": ("safetensors", 1),
                 "safetensors-sharded": ("safetensors", 3)}


@pytest.fixture(scope="session")
def demo_suite_dir(tmp_path_factory):
    """A small generated demo suite (DoIT layout, with its pretraining corpus)."""
    from growthpace.data import demo

    out = tmp_path_factory.mktemp("suite")
    demo.generate_suite(out, seed=0, n_train=4, n_valid=4, n_test=6, n_synthetic=40, n_ood=0, corpus_passes=2)
    return out


@pytest.fixture(scope="session")
def sp_tokenizer_dir(tmp_path_factory, demo_suite_dir):
    """A LLaMA SentencePiece tokenizer trained here on the demo corpus, laid out as LLaMA releases ship it
    (tokenizer.model, tokenizer_config.json, special_tokens_map.json; no tokenizer.json, no pad token)."""
    from growthpace.data import demo
    from growthpace.models.llama import train_sentencepiece

    out = tmp_path_factory.mktemp("sp")
    train_sentencepiece(demo.read_corpus(demo_suite_dir / "pretrain" / "corpus.txt"), out, vocab_size=1000)
    return out


@pytest.fixture(scope="session")
def llama_checkpoints(tmp_path_factory, sp_tokenizer_dir):
    """The same small LLaMA (fp16, as LLaMA's releases) in every layout real checkpoints ship:
    ``{layout: directory}`` for one .bin file, sharded .bin files with an index, and the same in safetensors."""
    from growthpace.models.llama import build_checkpoint

    root = tmp_path_factory.mktemp("llama")
    return {name: build_checkpoint(root / name, None, LLAMA_SHAPE, fmt=fmt, shards=shards, seed=0,
                                   tokenizer_dir=sp_tokenizer_dir)
            for name, (fmt, shards) in LLAMA_LAYOUTS.items()}


def snakemake(workdir, *args, configfile=None, check=True):
    """Run the real workflow in ``workdir`` (default config: the smoke study)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(configfile or ROOT / ".test" / "config.yaml"), "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def pytest_collection_modifyitems(config, items):
    """Longest first: the SLURM test (mostly waiting on the cluster), then the real workflow runs, then the
    rest, so that with several workers (``make test`` runs ``pytest -n``) the long runs start at once and
    the short tests fill the cores around them."""
    def rank(item):
        return 0 if item.get_closest_marker("slurm") else 1 if item.get_closest_marker("workflow") else 2
    items.sort(key=rank)


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A directory that ``build(path)`` fills once per test run, whatever the number of pytest-xdist
    workers: the first worker to ask builds it under a file lock, the others wait and share it. A failed
    build fails every later request at once, with the first one's error."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the workers' common base
    path, done, failed = root / name, root / f"{name}.done", root / f"{name}.failed"
    with FileLock(str(root / f"{name}.lock")):
        if failed.exists():
            pytest.fail(f"building {name} failed in another worker:\n{failed.read_text()}")
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
            try:
                build(path)
            except BaseException as e:
                failed.write_text(str(e))
                raise
            done.touch()
    return path


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The smoke study run once locally, from an empty directory (shared by the workflow tests, and by
    every worker). Tests that run snakemake on it again work on a copy."""
    return built_once(tmp_path_factory, "smoke", snakemake)


HUB_MODEL, HUB_DATA = "growthpace-test/tiny-llama", "growthpace-test/doit-mini"


@pytest.fixture(scope="session")
def hub_cache(tmp_path_factory, demo_suite_dir, llama_checkpoints):
    """A Hub cache on disk holding the SentencePiece LLaMA (safetensors) as model repository HUB_MODEL and
    the small demo suite, in DoIT's layout, as data set repository HUB_DATA: ``(cache, {repo: commit})``."""
    from .hub_cache import write_repo

    cache = tmp_path_factory.mktemp("hub")
    commits = {HUB_MODEL: write_repo(cache, "model", HUB_MODEL, llama_checkpoints["safetensors"]),
               HUB_DATA: write_repo(cache, "dataset", HUB_DATA, demo_suite_dir)}
    return cache, commits
