"""Hub ids (org/name@revision) in a study config, resolved through a Hub cache written on disk (offline)."""

import pytest
import yaml
from huggingface_hub import constants

from growthpace import artifacts, hub, study
from growthpace.fingerprint import Fingerprints

from .conftest import HUB_DATA, HUB_MODEL, ROOT
from .hub_cache import write_repo


@pytest.fixture
def offline(monkeypatch):
    def use(cache):
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return use


def study_config(model: str, data: str) -> dict:
    cfg = yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())
    cfg["data"]["source_dir"] = data
    cfg["models"]["sizes"] = {"7b": {"path": model}}
    cfg["grid"] = {"model_sizes": ["7b"], "data_sizes": {"curated": [10]}}
    cfg["evaluation"]["ood"] = False  # the suite in the cache has no out-of-domain sets
    return cfg


def test_ids_resolve_to_snapshots(hub_cache, offline, llama_checkpoints):
    cache, commits = hub_cache
    offline(cache)
    cfg = study_config(f"{HUB_MODEL}@main", HUB_DATA)
    assert hub.resolve_config(cfg) == {}
    model = cache / f"models--{HUB_MODEL.replace('/', '--')}" / "snapshots" / commits[HUB_MODEL]
    data = cache / f"datasets--{HUB_DATA.replace('/', '--')}" / "snapshots" / commits[HUB_DATA]
    assert cfg["models"]["sizes"]["7b"]["path"] == str(model)
    assert cfg["data"]["source_dir"] == str(data)
    assert (model / "tokenizer.model").read_bytes() == (llama_checkpoints["safetensors"] / "tokenizer.model").read_bytes()
    assert hub.origin(model) == f"{HUB_MODEL}@{commits[HUB_MODEL]}"
    assert study.missing_inputs(cfg) == []
    # a local directory stays a path, even one whose name looks like org/name
    local = study_config(str(llama_checkpoints["safetensors"]), str(data))
    assert hub.resolve_config(local) == {} and local["models"]["sizes"]["7b"]["path"] == str(llama_checkpoints["safetensors"])
    assert hub.parse("./org/name") is None and hub.parse("org/name@v1.0") == ("org/name", "v1.0")


def test_moved_branch_gives_new_keys(tmp_path, offline, llama_checkpoints):
    """The model key holds the commit and the files' contents: the branch moved to a commit that adds a
    file gives a new key; the old commit, named, gives the old key back; the same files in a plain
    directory have a key of their own (no commit)."""
    offline(tmp_path)
    source = llama_checkpoints["safetensors"]
    old = write_repo(tmp_path, "model", HUB_MODEL, source)

    def key(ref):
        cfg = study_config(ref, None)
        assert hub.resolve_config(cfg) == {}
        return artifacts.base_request(None, None, study.base_spec(cfg, "7b"), Fingerprints(None)).key

    before = key(HUB_MODEL)
    new = write_repo(tmp_path, "model", HUB_MODEL, source, extra={"README.md": "v2\n"})
    assert new != old
    assert key(HUB_MODEL) != before
    assert key(f"{HUB_MODEL}@{old}") == before
    assert key(str(source)) != before


def test_missing_id_is_named_with_the_cache(tmp_path, offline):
    offline(tmp_path)
    cfg = study_config("growthpace-test/absent@v2", "growthpace-test/no-data")
    problems = hub.resolve_config(cfg)
    assert set(problems) == {"models.sizes.7b.path", "data.source_dir"}
    assert "growthpace-test/absent at revision v2" in problems["models.sizes.7b.path"]
    assert str(tmp_path) in problems["models.sizes.7b.path"] and "HF_HUB_OFFLINE=1" in problems["data.source_dir"]
    with pytest.raises(study.MissingInputs) as err:
        study.check_inputs(cfg, problems)
    assert err.value.missing == list(problems.values())  # as Hub ids only, not also as missing paths
