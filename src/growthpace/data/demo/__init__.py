"""The demo suite: a generated ten-ability data set in DoIT's exact layout and record format.

Everything comes from ONE seeded "world", so that the abilities differ by construction in what they
need, and the pretraining corpus of the tiny demo models is written about the same world:

=================  =========================================================  ===========================
ability            item kinds (DoIT's conventions)                            what a model needs
=================  =========================================================  ===========================
biology            4-option choice about an organism's colour/food/home        a fact stored in pretraining
history            4-option choice + true/false (正确/错误) about a person       a fact stored in pretraining
chinese            4-option choice (which idiom is right) + one-blank cloze     idiom knowledge (pretraining)
understanding      dialogue in earlier user/assistant turns, 3/4-option choice read the whole context (gist)
                   (where are they / what are they talking about)
reasoning          4-option choice: clue puzzles solved by elimination          multi-step inference in context
math               word problem, chain of thought, ``\\boxed{}`` + ``answer``    a multi-step arithmetic procedure
ethics             multi-select ("AC") over do's and don'ts                    judgement (rules in pretraining)
code               rank 3 programs in a toy language (question_format 1)       instruction adherence + detail
creative_writing   rank 3 one-line texts in a requested style                  style + detail
role_play          rank 3 replies of a persona in a multi-turn chat            persona + detail
=================  =========================================================  ===========================

**Why choice items look the way they do.** Measured on 2 CPU cores: a 2-4 layer
model pretrained for 300-1500 steps, even on a corpus made only of worked multiple-choice passages, does
not learn to bind a shuffled option's text to its letter (0.23-0.31 against 0.25 by chance), and it does
not learn to copy names from the prompt (induction 0.07-0.09). It does learn facts stated in prose
(recall 0.8-1.0) and, through SFT at a low learning rate, to say such a fact in words. So:

- options of a single-choice item are a *closed set listed in a fixed order* (the four colours, the four
  dynasties, the four places of a dialogue question, ...), so the right letter follows from the right
  content; the chinese idiom options put one candidate per slot (a group of patterns); ethics puts one
  act per slot (a group of acts). Gold letters stay balanced (values are drawn in cycles);
- the answer gives the content in words before the letter: ``它全身是蓝色的，选C`` (biology, history),
  ``商店，选A`` (understanding, reasoning, chinese, C-Eval); true/false answers state the stored fact,
  then DoIT's verdict word: ``他是唐朝人，所以错误``. DoIT's parser reads the letter from ``选C`` and the
  verdict from 正确/错误, so the scorers are the paper's; only the gold texts are longer than a letter.

Ranked items (question_format 1) have ``choices = [gold, fine, coarse]``: the fine-grained distractor
changes one detail of the gold (a number, an operator, a place); the coarse-grained one is fluent,
on-topic text that answers a *different instruction of the same family* (another task with the same
numbers, another style on the same topic, another persona's reply to the same question), so that it is
not trivially off-topic (measured: with off-topic distractors, tiny models score about 1.0 at every
data size, a flat line).

Knowledge items (biology, history, chinese, the C-Eval-style out-of-domain sets) ask about entities whose
facts are stated in the corpus in prose (half the time as "X is ...; it ...; it ...", so that recall
reaches back to a name, as an answer has to); the train, valid and test splits use disjoint entities
(idioms for chinese), so a correct test answer needs what pretraining stored.

**The corpus** (``pretrain/corpus.txt``: passages separated by an empty line; an exam passage spans lines)
states every fact of the world in prose and adds generic practice on *other* content, so that the skills
exist before SFT and SFT mostly has to connect them to the chat format: worked exam questions laid out
like the test sets (question, options, ``答案：...，选X``) about *practice* entities that no split uses or
about a fact stated in the same passage; true/false and multi-select wording; dialogues retold with
where they happen or what they are about; elimination worked out in prose; arithmetic, multi-step
arithmetic and what toy programs do. No train/valid/test entity is ever asked about in the corpus.

The synthetic source imitates a teacher model: type ``general`` (the teacher's general instructions are
not labelled by ability, like DoIT's GPT-4 file), one template per kind (fewer than curated), formats
that drift from the test sets (free text instead of letters, 对/不对 instead of 正确/错误, single-turn
dialogues, no ``\\boxed{}``), only train-split entities, and exactly ``round(rate * n)`` wrong answers.

Texts are short (prompts under ~120 characters, answers under ~60, math chains of thought under ~120)
and use a modest, fixed character inventory so that a character-level tokenizer stays small.
Everything is deterministic: per-purpose ``random.Random`` instances seeded with strings.

Modules: ``world`` (closed vocabularies, entities per split, shared record helpers), one module per group
of abilities (``knowledge``: biology, history, chinese; ``context``: understanding, reasoning;
``procedure``: math, ethics; ``ranked``: code, creative_writing, role_play), ``ood`` (C-Eval-style
sets), ``synthetic`` (the teacher-style source), ``corpus`` (pretraining text) and ``suite`` (writes it
all, with a manifest).
"""

from .corpus import read_corpus
from .suite import ABILITIES, GENERATORS, generate_suite
from .synthetic import generate_synthetic
from .world import ABILITY_NEEDS, build_world

__all__ = ["ABILITIES", "ABILITY_NEEDS", "GENERATORS", "build_world", "generate_suite", "generate_synthetic",
           "read_corpus"]
