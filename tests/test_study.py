"""Study configs: the grid expansion and the checks a schema cannot express."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from growthpace import study

from .conftest import ROOT

SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def load(path: Path) -> dict:
    cfg = yaml.safe_load(path.read_text())
    validate(cfg, SCHEMA)
    return cfg


@pytest.mark.parametrize("path", [ROOT / "config" / "config.yaml", ROOT / ".test" / "config.yaml"])
def test_shipped_configs_are_valid(path):
    cfg = load(path)
    study.check_study(cfg)
    assert study.training_cells(cfg)


def test_grid_expansion():
    cfg = load(ROOT / "config" / "config.yaml")
    cells = study.training_cells(cfg)
    grid = cfg["grid"]
    n = len(grid["model_sizes"]) * sum(len(v) for v in grid["data_sizes"].values()) * len(grid["seeds"])
    assert len(cells) == n == len(set(cells))
    assert {c.data_source for c in cells} == set(grid["data_sizes"])


def test_settings_precedence():
    cfg = load(ROOT / "config" / "config.yaml")
    s = study.sft_settings(cfg, "xs")
    assert s["lr"] == cfg["models"]["sizes"]["xs"]["sft"]["lr"]          # per size
    assert s["epochs"] == cfg["training"]["epochs"]                        # study
    assert s["max_grad_norm"] == 1.0                                      # paper default


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["grid"].update(model_sizes=["xs", "xl"]), "grid.model_sizes[1]: 'xl' is not defined"),
    (lambda c: c["grid"]["data_sizes"].update(curated=[10, 15]), "grid.data_sizes.curated[1]: 15 is not a multiple"),
    (lambda c: c["models"]["sizes"]["xs"].pop("arch"), "models.sizes.xs: give either 'path'"),
    (lambda c: c["evaluation"].update(select_after_epoch=9), "evaluation.select_after_epoch: 9 leaves no epoch"),
    (lambda c: c["training"].update(micro_batch_size=64), "micro_batch_size 64 is larger than batch_size"),
])
def test_cross_key_errors_name_the_key(edit, message):
    cfg = copy.deepcopy(load(ROOT / "config" / "config.yaml"))
    edit(cfg)
    with pytest.raises(study.ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        study.check_study(cfg)


def test_schema_rejects_unknown_keys_and_types():
    cfg = load(ROOT / "config" / "config.yaml")
    bad = copy.deepcopy(cfg)
    bad["training"]["learning_rate"] = 1e-5
    with pytest.raises(Exception, match="learning_rate"):
        validate(bad, SCHEMA)
    bad = copy.deepcopy(cfg)
    bad["data"]["abilities"] = ["biology", "astrology"]
    with pytest.raises(Exception, match="astrology"):
        validate(bad, SCHEMA)
