"""The demo tokenizer: character level, trained here with HF ``tokenizers``, saved as a HF tokenizer.

One token per character suits tiny models on a Chinese corpus (measured: vocab of a few hundred,
exact round trip). ``decoders.Fuse`` joins characters back without spaces. The chat tokens are part
of the vocabulary from the start; ``chat.add_chat_tokens`` still works on any other tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from .chat import ASSISTANT, EOT, PAD, USER

UNK = "<unk>"
SPECIAL_TOKENS = [PAD, UNK, USER, ASSISTANT, EOT]
# Printable ASCII is always in the vocabulary so that options, digits and LaTeX never become <unk>.
ASCII = "".join(chr(c) for c in range(32, 127)) + "\n"


def train_char_tokenizer(texts: Iterable[str], out_dir: str | Path | None = None) -> PreTrainedTokenizerFast:
    """Train a character-level WordLevel tokenizer on ``texts``; save it to ``out_dir`` if given."""
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.normalizer = normalizers.NFC()
    # Every character is its own pre-token; "isolated" keeps each one as a separate piece.
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    trainer = trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS, min_frequency=1, show_progress=False)
    tok.train_from_iterator(_with_ascii(texts), trainer=trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token=UNK,
        pad_token=PAD,
        eos_token=EOT,
        additional_special_tokens=[USER, ASSISTANT, EOT],
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    if out_dir is not None:
        hf.save_pretrained(str(out_dir))
    return hf


def _with_ascii(texts: Iterable[str]) -> Iterable[str]:
    yield ASCII
    yield from texts
