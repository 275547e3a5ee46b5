"""Every problem of a study config is reported at once, each with its key (schema and study checks)."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from growthpace import study

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def demo_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_every_problem_in_one_message():
    """The demo extended as a new user might: a budget not in the grid, a guideline size without curated
    cells, a size never defined, a curated size that does not split over the abilities, a wrong type and a
    misspelt key. One error lists all six, each starting with its key."""
    bad = demo_config()
    bad["analysis"]["guideline"]["budget"] = 500
    bad["analysis"]["guideline"]["model_sizes"] = ["xl"]
    bad["grid"]["model_sizes"] = ["xs", "s", "q"]
    bad["grid"]["data_sizes"]["curated"] = [40, 165, 640, 2560]
    bad["training"]["epochs"] = "two"
    bad["trainig"] = {}
    with pytest.raises(study.ConfigProblems) as err:
        study.check_config(bad, SCHEMA)
    keys = [p.split(": ", 1)[0] for p in err.value.problems]
    assert keys == ["trainig", "training.epochs", "grid.model_sizes[2]", "grid.data_sizes.curated[1]",
                    "analysis.guideline.budget", "analysis.guideline.model_sizes[0]"]
    assert "6 config problem(s)" in str(err.value)
    assert all(f"  - {p}" in str(err.value) for p in err.value.problems)


def test_valid_config_gets_snakemakes_defaults():
    """A valid config passes, with the schema's defaults filled in exactly as Snakemake's validate fills them."""
    ours, theirs = demo_config(), demo_config()
    del ours["data"]["leakage"], theirs["data"]["leakage"]
    study.check_config(ours, SCHEMA)
    validate(theirs, str(SCHEMA))
    assert ours == theirs and ours["data"]["leakage"] == "error"


def test_study_checks_collect_without_schema_problems():
    cfg = demo_config()
    bad = copy.deepcopy(cfg)
    bad["grid"]["model_sizes_by_source"] = {"synthetic": ["xs", "zz"]}
    bad["evaluation"]["select_after_epoch"] = 2
    with pytest.raises(study.ConfigProblems) as err:
        study.check_config(bad, SCHEMA)
    assert [p.split(":", 1)[0] for p in err.value.problems] == [
        "grid.model_sizes_by_source.synthetic[1]", "evaluation.select_after_epoch"]
