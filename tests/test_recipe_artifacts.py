"""The workflow's steps for recipes, leakage, base-model evaluation and benchmark paths, on the small
fixture trees in DoIT's layout (no Snakemake)."""

import json
import shutil

import pytest

from growthpace import artifacts
from growthpace.data.leakage import LeakageError
from growthpace.data.loaders import load_jsonl
from growthpace.data.recipes import RecipeError
from growthpace.data.schema import ABILITIES
from growthpace.store import Store

from .conftest import ROOT

DOIT = ROOT / "tests" / "fixtures" / "doit"


@pytest.fixture
def doit_suite(tmp_path):
    store = Store(tmp_path / "store")
    return store, artifacts.build_suite(store, {"source_dir": str(DOIT)})


def recipe_spec(recipe, cap=False, seed=0):
    return {"recipe": recipe, "abilities": list(ABILITIES), "seed": seed, "cap": cap}


def types(subset):
    return [r["type"] for r in load_jsonl(subset.path / "train.jsonl")]


def test_recipe_subset_is_keyed_by_its_content(doit_suite):
    store, suite = doit_suite
    mine = {"name": "small", "counts": {"biology": 3, "math": 4, "code": 1}, "synthetic": 2}
    subset = artifacts.build_subset(store, suite, recipe_spec(mine))
    assert types(subset) == ["biology"] * 3 + ["code"] + ["math"] * 4 + ["general"] * 2
    manifest = json.loads((subset.path / "manifest.json").read_text())
    assert manifest["n"] == 10 and manifest["synthetic"] == 2 and manifest["pool_split"] == "full"
    # the same mixture under another name is the same artifact
    again = artifacts.build_subset(store, suite, recipe_spec({**mine, "name": "other"}))
    assert again.key == subset.key
    # single-ability cells are recipes of one ability from curated/1000
    only = artifacts.build_subset(store, suite, recipe_spec({"name": "only-math-2", "counts": {"math": 2}, "pool": "1000"}))
    assert types(only) == ["math", "math"]
    assert artifacts.realised_cell({"data_source": "single_ability", "data_size": 2}, only)["data_size"] == 2
    assert artifacts.realised_cell({"data_source": "recipe", "data_size": 0}, subset)["data_size"] == 10
    assert artifacts.realised_cell({"data_source": "curated", "data_size": 7}, subset)["data_size"] == 7


def test_recipe_equal_to_a_plain_cell_shares_its_artifact(doit_suite):
    store, suite = doit_suite
    plain = artifacts.build_subset(store, suite, {"source": "curated", "data_size": 20, "seed": 0, "cap": False,
                                               "abilities": list(ABILITIES)})
    assert artifacts.build_subset(store, suite, recipe_spec("curated-20")).key == plain.key
    synthetic = artifacts.build_subset(store, suite, {"source": "synthetic", "data_size": 3, "seed": 0, "cap": False})
    assert artifacts.build_subset(store, suite, recipe_spec("synthetic-3")).key == synthetic.key


def test_too_large_recipes_stop_unless_capped(doit_suite):
    store, suite = doit_suite
    with pytest.raises(RecipeError, match=r"^recipe 'baseline': biology: asked for 1000 items but the curated/1000 "
                                          r"pool has \d+; .*set cap: true"):
        artifacts.build_subset(store, suite, recipe_spec("baseline"))
    capped = artifacts.build_subset(store, suite, recipe_spec("baseline", cap=True))
    assert sorted(set(types(capped))) == sorted(ABILITIES)


def test_leaked_record_stops_the_subset_with_the_pairs(tmp_path):
    root = tmp_path / "doit"
    shutil.copytree(DOIT, root)
    test_file = root / "curated" / "test" / "math_test.json"
    leaked = test_file.read_text(encoding="utf-8").splitlines()[0]
    pool = root / "curated" / "1000" / "math_1000.json"
    pool.write_text(pool.read_text(encoding="utf-8").rstrip("\n") + "\n" + leaked + "\n", encoding="utf-8")
    n = len(load_jsonl(pool))
    store = Store(tmp_path / "store")
    suite = artifacts.build_suite(store, {"source_dir": str(root)})
    spec = recipe_spec({"name": "all-math", "counts": {"math": n}, "pool": "1000"})
    with pytest.raises(LeakageError) as err:
        artifacts.build_subset(store, suite, spec, leakage="error")
    assert f"math_1000.json:{n}" in str(err.value) and "math_test.json:1" in str(err.value)
    assert "[same record]" in str(err.value)
    assert len(artifacts.check_subset_leakage(suite, artifacts.build_subset(store, suite, spec, leakage="off"),
                                           "report")) == 1


def test_missing_benchmark_dir_fails_before_any_model_is_loaded(tmp_path, doit_suite):
    store, suite = doit_suite
    spec = {"abilities": ["math"], "splits": ["test"], "dtype": "auto", "batch_size": 4, "max_new_tokens": {},
            "benchmarks": {"cmmlu": {"dir": str(tmp_path / "nope"), "shots": [0]}}}
    with pytest.raises(FileNotFoundError, match=r"evaluation\.benchmarks\.cmmlu\.dir: .*nope \(no such directory\)"):
        artifacts.build_predictions(store, tmp_path / "no-model", "k", suite, spec)


def test_base_model_without_chat_tokens_gets_them(tmp_path):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from growthpace.evaluate.engine import HFEngine
    from growthpace.models.chat import ChatIds
    from growthpace.models.tiny import build_model

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.train_from_iterator(["abcdefg 答案正确错误ABCD"], trainer=trainers.WordLevelTrainer(special_tokens=["<unk>", "</s>"]))
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="</s>")
    arch = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
            "intermediate_size": 32}
    build_model(arch, len(hf), hf.eos_token_id, hf.eos_token_id).save_pretrained(tmp_path, safe_serialization=True)
    hf.save_pretrained(tmp_path)
    assert not artifacts.has_chat_tokens(tmp_path)
    a, b = (HFEngine(tmp_path, add_chat_tokens=True, progress=False) for _ in range(2))
    ChatIds.of(a.tokenizer)  # the speaker tokens exist now
    emb = a.model.get_input_embeddings().weight
    assert emb.shape[0] == len(a.tokenizer) == len(hf) + 4  # <user> <assistant> <eot> <pad>
    assert (emb == b.model.get_input_embeddings().weight).all()  # seeded
    assert set(a.stop_ids) >= {a.tokenizer.convert_tokens_to_ids(t) for t in ("<user>", "<assistant>", "<eot>")}
