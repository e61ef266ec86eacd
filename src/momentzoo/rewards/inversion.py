"""Invert4TVG's inversion-task rewards (verb completion, action recognition, video description), TRL signature.

Each is 1.0 when the action in the answer matches the query's, else 0.0, read from the ``<answer>`` block
(see ``parsing.extract_answer``). Verbs are compared by lemma with a :class:`VerbLemmatizer`
(``lemmatizer=``, default :func:`default_lemmatizer`): a word matches when one of its verb readings
(``lemmas``: "lay" reads as lay or lie) is the other side's lemma, so tense never matters.

Columns (one value per completion; rows are built by ``build_inversion_example``):

=========================== ====================================== ==========================================
reward                      columns                                1.0 when
=========================== ====================================== ==========================================
``verb_completion_reward``  ``masked_query`` (with ``[]``),        the word the answer puts in the gap has
                            ``verb`` (the masked word)             the masked verb's lemma
``action_recognition_...``  ``query``                              the answer is one word whose lemma is a
                                                                   lemma of one of the query's verbs
``video_description_...``   ``verb`` (the ground-truth verb)       a verb of the description has its lemma
=========================== ====================================== ==========================================

With a ``task`` column, rows of other tasks get ``None`` (see ``common``). Each task's total is
``format_reward + <its reward>``: list both in ``reward_funcs`` and TRL sums them.
"""

from __future__ import annotations

import re

from .common import GAP, column, scored_rows, string_cell
from .lemmatizer import VerbLemmatizer, default_lemmatizer
from .parsing import extract_answer
from .verb_lexicon import AUXILIARY_FORMS

__all__ = ["verb_completion_reward", "action_recognition_reward", "video_description_reward", "fill_gap", "answer_words"]

_WORD_RE = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+){0,3}")
_MAX_GAP_WORDS = 4  # "is slowly closing" at most; a longer insertion is not a filled gap


def answer_words(text: str) -> list[str]:
    """Lower-cased words of `text` (letters/digits, inner apostrophes); punctuation and brackets dropped."""
    return _WORD_RE.findall(text.lower())


def fill_gap(template: str, answer: str) -> str | None:
    """The word `answer` puts in the ``[]`` gap of `template`, or ``None``.

    The answer is either the completed sentence, whose words before and after the gap must equal the
    template's (case and punctuation aside, brackets allowed: "Person [closes] the door."), or the bare
    word. Leading auxiliaries in the gap are dropped ("is closing" -> "closing"); what remains must be
    one word.
    """
    before, _, after = template.partition(GAP)
    pre, post, words = answer_words(before), answer_words(after), answer_words(answer)
    if len(words) == 1 and (pre or post):
        gap = words
    elif len(words) > len(pre) + len(post) and words[: len(pre)] == pre and words[len(words) - len(post) :] == post:
        gap = words[len(pre) : len(words) - len(post)]
    else:
        return None
    if len(gap) > _MAX_GAP_WORDS:
        return None
    while len(gap) > 1 and gap[0] in AUXILIARY_FORMS:
        gap = gap[1:]
    return gap[0] if len(gap) == 1 else None


def verb_completion_reward(prompts=None, completions=None, lemmatizer: VerbLemmatizer | None = None, **kwargs) -> list[float | None]:
    """VC: 1.0 if the lemma of the verb the answer puts in the gap of ``masked_query`` equals the lemma of
    ``verb`` (the masked word), else 0.0."""
    name = "verb_completion_reward"
    texts, scored = scored_rows(completions, kwargs, "vc", name)
    rewards: list[float | None] = [None] * len(texts)
    if not scored:
        return rewards
    _, templates = column(kwargs, "masked_query", len(texts), name)
    _, verbs = column(kwargs, "verb", len(texts), name)
    lemmatizer = lemmatizer or default_lemmatizer()
    for i in scored:
        template = string_cell(templates, i, "masked_query", name)
        if template.count(GAP) != 1:
            raise ValueError(f"{name}: row {i}: column 'masked_query' must hold exactly one {GAP!r} gap, got {template!r}")
        truth = lemmatizer.lemmas(string_cell(verbs, i, "verb", name))
        answer = extract_answer(texts[i])
        word = None if answer is None else fill_gap(template, answer)
        rewards[i] = float(word is not None and not truth.isdisjoint(lemmatizer.lemmas(word)))
    return rewards


def action_recognition_reward(prompts=None, completions=None, lemmatizer: VerbLemmatizer | None = None, **kwargs) -> list[float | None]:
    """AR: 1.0 if the answer is a single word whose lemma is among the lemmas of the verbs of ``query``."""
    name = "action_recognition_reward"
    texts, scored = scored_rows(completions, kwargs, "ar", name)
    rewards: list[float | None] = [None] * len(texts)
    if not scored:
        return rewards
    _, queries = column(kwargs, "query", len(texts), name)
    lemmatizer = lemmatizer or default_lemmatizer()
    query_verbs = lemmatizer.verb_lemmas([string_cell(queries, i, "query", name) for i in scored])
    for i, truth in zip(scored, query_verbs):
        answer = extract_answer(texts[i])
        words = [] if answer is None else answer_words(answer)
        rewards[i] = float(len(words) == 1 and not truth.isdisjoint(lemmatizer.lemmas(words[0])))
    return rewards


def video_description_reward(prompts=None, completions=None, lemmatizer: VerbLemmatizer | None = None, **kwargs) -> list[float | None]:
    """VD: 1.0 if the lemma of ``verb`` (the ground-truth verb) is among the lemmas of the verbs of the
    answer (the description), else 0.0."""
    name = "video_description_reward"
    texts, scored = scored_rows(completions, kwargs, "vd", name)
    rewards: list[float | None] = [None] * len(texts)
    if not scored:
        return rewards
    _, verbs = column(kwargs, "verb", len(texts), name)
    lemmatizer = lemmatizer or default_lemmatizer()
    described, descriptions, truths = [], [], []
    for i in scored:
        truth = lemmatizer.lemmas(string_cell(verbs, i, "verb", name))
        answer = extract_answer(texts[i])
        rewards[i] = 0.0
        if answer is not None:
            described.append(i)
            descriptions.append(answer)
            truths.append(truth)
    for i, hit in zip(described, lemmatizer.has_verb(descriptions, truths)):
        rewards[i] = float(hit)
    return rewards
