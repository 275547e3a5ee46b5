"""Model directories as real LLaMA releases ship them: a SentencePiece tokenizer without a pad token,
weights in PyTorch .bin or safetensors, one file or sharded with an index; and clear errors for
directories that cannot be fine-tuned."""

import json
import shutil

import pytest
import sentencepiece as spm
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from growthpace.models.chat import ASSISTANT, EOT, USER, add_chat_tokens, encode_for_training, encode_prompt
from growthpace.train.checks import ModelDirError, check_model_dir, weight_files

from .conftest import LLAMA_LAYOUTS

TEXTS = ["细胞是生命的基本单位。", "答案：C", "Hello, world: x = 12 + 345", "问：秋彩住在哪里？\n答：森林。", "ü ß → 🙂"]


def raw_state_dict(model_dir):
    """The tensors in a checkpoint's files, read without transformers."""
    state = {}
    for f in weight_files(model_dir):
        state.update(load_file(f) if f.suffix == ".safetensors" else torch.load(f, weights_only=True))
    return state


def test_every_layout_holds_the_same_weights_and_loads(llama_checkpoints):
    files = {name: sorted(p.name for p in weight_files(d)) for name, d in llama_checkpoints.items()}
    assert files["bin"] == ["pytorch_model.bin"] and files["safetensors"] == ["model.safetensors"]
    assert files["bin-sharded"] == [f"pytorch_model-0000{i}-of-00003.bin" for i in (1, 2, 3)]
    assert files["safetensors-sharded"] == [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    reference = raw_state_dict(llama_checkpoints["safetensors"])
    assert all(t.dtype == torch.float16 for t in reference.values())  # as LLaMA releases ship them
    for name, model_dir in llama_checkpoints.items():
        assert check_model_dir(model_dir) == model_dir
        raw = raw_state_dict(model_dir)
        assert raw.keys() == reference.keys() and all(torch.equal(raw[k], reference[k]) for k in raw), name
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, weights_only=True)
        loaded = model.state_dict()
        for k, t in reference.items():  # every tensor of the files ends up in the model, none left random
            assert torch.equal(loaded[k], t.float()), (name, k)
        assert len(loaded) == len(reference)


def test_sentencepiece_tokenizer_encodes_as_sentencepiece_does(llama_checkpoints, tmp_path):
    model_dir = llama_checkpoints["bin"]
    assert not (model_dir / "tokenizer.json").exists()  # only the SentencePiece model, as LLaMA ships it
    sp = spm.SentencePieceProcessor(model_file=str(model_dir / "tokenizer.model"))
    tok = AutoTokenizer.from_pretrained(model_dir)
    assert tok.pad_token is None and (tok.bos_token_id, tok.eos_token_id, tok.unk_token_id) == (1, 2, 0)
    for text in TEXTS:
        ids = tok(text)["input_ids"]
        assert ids == [1] + sp.encode(text), text  # BOS, then SentencePiece's own pieces
        assert ids[1:] and tok.decode(ids[1:]) == text  # byte fallback: nothing lost, nothing <unk>
    # The chat format adds its speaker tokens and a pad token after the 1000 pieces.
    assert add_chat_tokens(tok) == 4
    assert [tok.convert_tokens_to_ids(t) for t in (USER, ASSISTANT, EOT)] == [1000, 1001, 1002]
    assert tok.pad_token_id == 1003 and len(tok) == 1004
    messages = [{"role": "user", "content": TEXTS[0]}, {"role": "assistant", "content": TEXTS[1]}]
    prompt = encode_prompt(tok, messages)
    assert prompt == [1000] + sp.encode(TEXTS[0]) + [1002, 1001]
    ids, labels = encode_for_training(tok, messages, 64)
    assert ids == prompt + sp.encode(TEXTS[1]) + [1002]
    assert labels == [-100] * len(prompt) + sp.encode(TEXTS[1]) + [1002]
    # Saved with the chat tokens (a fine-tuned snapshot writes tokenizer.json): the fast tokenizer
    # loaded back encodes exactly as the one converted from tokenizer.model.
    tok.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "tokenizer.json").is_file()
    fast = AutoTokenizer.from_pretrained(tmp_path / "saved")
    assert encode_for_training(fast, messages, 64) == (ids, labels)
    assert fast.pad_token_id == 1003 and all(fast(t)["input_ids"] == tok(t)["input_ids"] for t in TEXTS)


def edit_config(model_dir, **changes):
    config = json.loads((model_dir / "config.json").read_text())
    config.update(changes)
    (model_dir / "config.json").write_text(json.dumps(config))


def copy(src, dst, drop=()):
    shutil.copytree(src, dst)
    for pattern in drop:
        for f in dst.glob(pattern):
            f.unlink()
    return dst


def test_no_weights_is_named(llama_checkpoints, tmp_path):
    model_dir = copy(llama_checkpoints["bin"], tmp_path / "m", drop=["pytorch_model*"])
    with pytest.raises(ModelDirError, match=r"has no weights \(model.safetensors or model.safetensors.index.json "
                                            r"or pytorch_model.bin or pytorch_model.bin.index.json\)"):
        check_model_dir(model_dir)
    (model_dir / "adapter_config.json").write_text("{}")
    (model_dir / "adapter_model.bin").write_bytes(b"")
    with pytest.raises(ModelDirError, match="holds a LoRA adapter .* merge it into its base model first"):
        check_model_dir(model_dir)


def test_a_missing_shard_is_named(llama_checkpoints, tmp_path):
    model_dir = copy(llama_checkpoints["bin-sharded"], tmp_path / "m", drop=["pytorch_model-00002-of-00003.bin"])
    with pytest.raises(ModelDirError, match=r"pytorch_model.bin.index.json: names 1 shard\(s\) missing from .*: "
                                            r"pytorch_model-00002-of-00003.bin"):
        check_model_dir(model_dir)
    (model_dir / "model.safetensors.index.json").write_text('{"metadata": {}}')
    with pytest.raises(ModelDirError, match="model.safetensors.index.json: not a weight index with a 'weight_map'"):
        check_model_dir(model_dir)


def test_a_model_that_is_not_a_causal_lm_is_named(llama_checkpoints, tmp_path):
    model_dir = copy(llama_checkpoints["safetensors"], tmp_path / "m")
    edit_config(model_dir, architectures=["LlamaForSequenceClassification"])
    with pytest.raises(ModelDirError, match=r"config.json: architectures \['LlamaForSequenceClassification'\] is not "
                                            r"a causal language model \(a llama causal LM is LlamaForCausalLM\)"):
        check_model_dir(model_dir)
    edit_config(model_dir, architectures=["LlamaForCausalLM"])
    assert check_model_dir(model_dir) == model_dir
    edit_config(model_dir, model_type="t5", architectures=["T5ForConditionalGeneration"])
    with pytest.raises(ModelDirError, match="model_type 't5' is not a causal language model known to transformers"):
        check_model_dir(model_dir)


def test_a_model_that_needs_remote_code_is_refused(llama_checkpoints, tmp_path):
    model_dir = copy(llama_checkpoints["bin"], tmp_path / "m")
    edit_config(model_dir, model_type="baichuan", architectures=["BaichuanForCausalLM"],
                auto_map={"AutoConfig": "configuration_baichuan.BaichuanConfig",
                          "AutoModelForCausalLM": "modeling_baichuan.BaichuanForCausalLM"})
    (model_dir / "modeling_baichuan.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(ModelDirError, match="model_type 'baichuan' needs the checkpoint's own code .*"
                                            r"trust_remote_code is off"):
        check_model_dir(model_dir)


class Payload:
    """A pickle that would create a file when loaded: what weights_only=True must refuse."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_bin_weights_are_read_without_running_pickled_code(llama_checkpoints, tmp_path):
    from growthpace.evaluate.engine import HFEngine
    from growthpace.train.sft import SFTSettings, load_model

    model_dir = copy(llama_checkpoints["bin"], tmp_path / "m")
    state = torch.load(model_dir / "pytorch_model.bin", weights_only=True)
    marker = tmp_path / "pickled-code-ran"
    torch.save({**state, "payload": Payload(marker)}, model_dir / "pytorch_model.bin")
    tok = AutoTokenizer.from_pretrained(model_dir)
    with pytest.raises(Exception, match="(?i)weights.only"):
        load_model(model_dir, tok, 0, SFTSettings(), torch.float32, on_gpu=False)
    with pytest.raises(Exception, match="(?i)weights.only"):
        HFEngine(model_dir, progress=False)
    assert not marker.exists()
