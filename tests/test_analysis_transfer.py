"""Transfer matrix, transference and complexity on constructed data with known answers."""

import json

import numpy as np
import pandas as pd
import pytest

from growthpace.analysis import bootstrap as bs
from growthpace.analysis import complexity, transfer
from tests.analysis_data import covers, items_for, tables_for

ABILITIES = ["biology", "code", "math", "ethics"]
BASE = {"biology": 0.3, "code": 0.25, "math": 0.1, "ethics": 0.5}
# T[i][j]: how training only on ability i moves ability j against the base model.
T = np.array([[0.20, 0.05, 0.00, 0.10],
              [0.00, 0.25, 0.08, 0.00],
              [0.02, 0.10, 0.30, -0.05],
              [0.00, 0.00, 0.00, 0.02]])
N = 64


def study_truth(model_sizes=("7b",), shift=None):
    truth = {}
    for m, ms in enumerate(model_sizes):
        extra = (shift or {}).get(ms, 0.0)
        for j, b in BASE.items():
            truth[(ms, "base", 0, 0, "", j)] = b
        for i, a in enumerate(ABILITIES):
            for j, b in enumerate(ABILITIES):
                truth[(ms, "single_ability", N, 0, f"only-{a}-{N}", b)] = BASE[b] + T[i, j] + extra * (i == j)
    return truth


@pytest.fixture(scope="module")
def boot():
    predictions, scores = tables_for(items_for(study_truth(), 2500, coupling=0.8))
    return bs.bootstrap(bs.selected_items(predictions, scores), n_boot=500)


def test_known_transfer_matrix_is_recovered(boot):
    m = transfer.transfer_matrix(boot, ABILITIES)
    assert list(m.columns) == transfer.MATRIX_COLUMNS and len(m) == 16
    got = m.pivot(index="trained", columns="evaluated", values="delta").loc[ABILITIES, ABILITIES].to_numpy()
    assert np.abs(got - T).max() < 0.04
    assert all(covers(r.ci_low, r.ci_high, T[ABILITIES.index(r.trained), ABILITIES.index(r.evaluated)])
               for r in m.itertuples())
    assert (m["delta"] == m["score"] - m["base_score"]).all()


def test_transference_summarises_the_matrix(boot):
    m = transfer.transfer_matrix(boot, ABILITIES)
    s = transfer.transference(boot, ABILITIES).set_index("ability")
    d = m.pivot(index="trained", columns="evaluated", values="delta").loc[ABILITIES, ABILITIES].to_numpy()
    for k, a in enumerate(ABILITIES):
        off = [i for i in range(4) if i != k]
        assert s.loc[a, "self"] == pytest.approx(d[k, k])
        assert s.loc[a, "transfer_in"] == pytest.approx(d[off, k].mean())
        assert s.loc[a, "transfer_out"] == pytest.approx(d[k, off].mean())
        assert covers(s.loc[a, "transfer_in_low"], s.loc[a, "transfer_in_high"], T[off, k].mean())
    assert s["transfer_in"].idxmax() == "code"       # 0.05 + 0.10 from the others
    assert s["transfer_out"].idxmax() == "biology"   # 0.05 + 0.10 to the others


def test_several_model_sizes_add_their_mean():
    predictions, scores = tables_for(items_for(study_truth(("7b", "13b"), shift={"13b": 0.1}), 800))
    b = bs.bootstrap(bs.selected_items(predictions, scores), n_boot=200)
    m = transfer.transfer_matrix(b, ABILITIES, ["7b", "13b"])
    assert list(m["model_size"].unique()) == ["7b", "13b", "all"]
    wide = m.pivot_table(index=["trained", "evaluated"], columns="model_size", values="delta")
    assert np.allclose(wide["all"], (wide["7b"] + wide["13b"]) / 2)
    diag = wide.loc[[(a, a) for a in ABILITIES]]
    assert (diag["13b"] - diag["7b"]).mean() == pytest.approx(0.1, abs=0.04)


def test_no_base_model_means_no_transfer():
    truth = {k: v for k, v in study_truth().items() if k[1] != "base"}
    predictions, scores = tables_for(items_for(truth, 50))
    b = bs.bootstrap(bs.selected_items(predictions, scores), n_boot=50)
    assert transfer.transfer_matrix(b, ABILITIES).empty
    assert transfer.transference(b, ABILITIES).empty
    assert list(transfer.transference(b, ABILITIES).columns) == transfer.TRANSFERENCE_COLUMNS


# -------------------------------------------------------------------------------------- complexity
def record(ability, gold):
    return {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": gold}], "type": ability}


def test_gold_output_proxies():
    records = {"math_test": [record("math", "x = 1\ny = x + 1 = 2\n\n答案 2"), record("math", "a = 3")],
               "ethics_test": [record("ethics", "正确")]}
    p = complexity.proxies_from_records(records).set_index("ability")
    assert p.loc["math", "answer_chars"] == pytest.approx((len("x = 1\ny = x + 1 = 2\n\n答案 2") + 5) / 2)
    assert p.loc["math", "answer_lines"] == pytest.approx((3 + 1) / 2)
    assert p.loc["math", "answer_equals"] == pytest.approx((3 + 1) / 2)
    assert p.loc["ethics", "answer_chars"] == 2 and p.loc["ethics", "answer_equals"] == 0


def test_base_model_gold_loss_from_ranked_items():
    items = pd.DataFrame({
        "data_source": ["base", "base", "curated", "base"], "ability": ["code", "code", "code", "math"],
        "choice_logprobs": [json.dumps([-4.0, -9.0, -8.0]), json.dumps([-6.0, -1.0, -2.0]),
                            json.dumps([-1.0, -5.0, -5.0]), None],
        "choice_lengths": [json.dumps([2, 3, 3]), json.dumps([3, 3, 3]), json.dumps([2, 2, 2]), None]})
    nll = complexity.base_gold_nll(items).set_index("ability")["base_gold_nll"]
    assert list(nll.index) == ["code"]
    assert nll["code"] == pytest.approx((4.0 / 2 + 6.0 / 3) / 2)


def test_base_model_gold_loss_for_every_item_kind():
    """With gold_logprob/gold_tokens (stored for every item), every ability gets a value; rows without
    them fall back to the ranked item's first choice; tuned cells never count."""
    items = pd.DataFrame({
        "data_source": ["base", "base", "base", "curated", "base"],
        "ability": ["math", "math", "biology", "math", "code"],
        "gold_logprob": [-12.0, -3.0, -8.0, -1.0, np.nan], "gold_tokens": [4, 3, 2, 4, np.nan],
        "choice_logprobs": [None, None, None, None, json.dumps([-9.0, -1.0, -1.0])],
        "choice_lengths": [None, None, None, None, json.dumps([3, 3, 3])]})
    nll = complexity.base_gold_nll(items).set_index("ability")["base_gold_nll"]
    assert nll.to_dict() == pytest.approx({"biology": 4.0, "code": 3.0, "math": (12 / 4 + 3 / 3) / 2})


def test_predictiveness_is_spearman_with_n_and_p():
    features = pd.DataFrame({"ability": list("abcdefg"), "answer_chars": [1, 2, 3, 4, 5, 6, 7],
                             "flat": [1.0] * 7, "noise": [3, 1, 4, 1, 5, 9, 2]})
    sens = pd.DataFrame({"ability": list("abcdefg"), "data_gain": [0.1, 0.2, 0.25, 0.3, 0.5, 0.6, 0.9],
                         "model_gain": [np.nan, 1, 2, 3, 4, 5, 6]})
    p = complexity.predictiveness(features, sens).set_index(["feature", "target"])
    assert p.loc[("answer_chars", "data_gain"), "rho"] == pytest.approx(1.0)
    assert p.loc[("answer_chars", "data_gain"), "n"] == 7
    assert p.loc[("answer_chars", "model_gain"), "n"] == 6
    assert np.isnan(p.loc[("flat", "data_gain"), "rho"])  # constant: no correlation
    # Independently: Pearson correlation of the ranks.
    x = pd.Series([3, 1, 4, 1, 5, 9, 2]).rank().to_numpy()
    y = pd.Series([0.1, 0.2, 0.25, 0.3, 0.5, 0.6, 0.9]).rank().to_numpy()
    assert p.loc[("noise", "data_gain"), "rho"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert 0 < p.loc[("noise", "data_gain"), "p"] <= 1


def test_complexity_table_joins_proxies_and_transference(boot):
    tr = transfer.transference(boot, ABILITIES)
    proxies = pd.DataFrame({"ability": ["math", "code"], "answer_lines": [5.0, 2.0]})
    c = complexity.complexity_table([proxies], tr, ABILITIES)
    assert list(c["ability"]) == ABILITIES
    assert list(c.columns) == ["ability", "answer_lines", "transfer_in", "transfer_out"]
    assert np.isnan(c.set_index("ability").loc["biology", "answer_lines"])
