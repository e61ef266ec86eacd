"""Invert4TVG's inversion-task rewards (verb completion, action recognition, video description), TRL signature.

Each is 1.0 when the action in the answer matches the query's, else 0.0, read from the ``<answer>`` block
(see ``parsing.extract_answer``). Verbs are compared by lemma with a :class:`VerbLemmatizer`
(``lemmatizer=``, default :func:`default_lemmatizer`): a word matches when one of its verb readings
(``lemmas``: "lay" reads as lay or lie) is the other side's lemma, so tense never matters.

Columns (one value per completion; rows are built by ``build_inversion_example``):

=========================== ====================================== ==========================================
reward                      columns                                1.0 when
=========================== ====================================== ==========================================
``verb_completion_reward``  ``masked_query`` (with ``[]`` gaps),   the answer's verbs include the lemma of
                            ``query`` (or ``verb``)                every masked verb, however it is phrased
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

__all__ = [
    "verb_completion_reward",
    "action_recognition_reward",
    "video_description_reward",
    "fill_gap",
    "answer_words",
    "masked_words",
]

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


def masked_words(template: str, query: str) -> list[str] | None:
    """The words of `query` that the ``[]`` gaps of `template` stand for, in order, or ``None`` when `template`
    is not `query` with some words replaced by ``[]``."""
    pieces = template.split(GAP)
    pattern = "(.+?)".join(re.escape(piece) for piece in pieces)
    match = re.fullmatch(pattern, query, flags=re.DOTALL)
    return None if match is None else [word.strip() for word in match.groups()]


def _readable(text: str) -> str:
    # A lone surrogate (e.g. half an emoji from a cut generation) makes spaCy raise: drop what is not UTF-8.
    return text.encode("utf-8", "ignore").decode("utf-8")


def _answer_verb_lemmas(lemmatizer: VerbLemmatizer, answers: list[str]) -> list[set[str]]:
    """Every verb reading of the verbs of each answer (its tagged lemma and the word's other readings)."""
    found = lemmatizer.verb_tokens([_readable(a) for a in answers])
    return [{v.lemma for v in verbs} | {r for v in verbs for r in lemmatizer.lemmas(v.text)} for verbs in found]


def verb_completion_reward(
    prompts=None, completions=None, lemmatizer: VerbLemmatizer | None = None, match: str = "verbs", **kwargs
) -> list[float | None]:
    """VC: 1.0 if the answer has a verb with the lemma of every masked verb, however the rest of the sentence is
    phrased (``match="verbs"``, the paper's reward); else 0.0.

    The masked verbs are the words of ``query`` behind the ``[]`` gaps of ``masked_query`` (every verb of the
    query when it was built with ``mask="all"``, the paper's masking); for a single gap that ``query`` does not
    explain (or without a ``query`` column), the word of the ``verb`` column. As the official reward, naming more
    verbs than the masked ones does not lose the reward. ``match="gap"`` is the older, stricter reward: the answer
    must repeat the template around a single gap and the one word it puts there must have the masked verb's lemma.
    """
    name = "verb_completion_reward"
    if match not in ("verbs", "gap"):
        raise ValueError(f"{name}: match must be 'verbs' or 'gap', got {match!r}")
    texts, scored = scored_rows(completions, kwargs, "vc", name)
    rewards: list[float | None] = [None] * len(texts)
    if not scored:
        return rewards
    _, templates = column(kwargs, "masked_query", len(texts), name)
    queries = column(kwargs, "query", len(texts), name)[1] if kwargs.get("query") is not None else None
    verbs = column(kwargs, "verb", len(texts), name)[1] if queries is None or kwargs.get("verb") is not None else None
    lemmatizer = lemmatizer or default_lemmatizer()
    truths, answered, answers = {}, [], []
    for i in scored:
        template = string_cell(templates, i, "masked_query", name)
        if GAP not in template or (match == "gap" and template.count(GAP) != 1):
            raise ValueError(
                f"{name}: row {i}: column 'masked_query' must hold {'exactly one' if match == 'gap' else 'a'} {GAP!r} gap, got {template!r}"
            )
        words = None
        if queries is not None and match == "verbs":
            words = masked_words(template, string_cell(queries, i, "query", name))
        if words is None and verbs is not None and template.count(GAP) == 1:
            words = [string_cell(verbs, i, "verb", name)]  # the one masked word, as written
        if not words:
            query = None if queries is None else queries[i]
            raise ValueError(
                f"{name}: row {i}: column 'masked_query' {template!r} is not column 'query' {query!r} "
                "with words masked (and no 'verb' column names its one masked word)"
            )
        truths[i] = [lemmatizer.lemmas(word) for word in words]
        answer = extract_answer(texts[i], strict=True)  # a closed <answer> block, as the official reward reads it
        rewards[i] = 0.0
        if answer is None:
            continue
        if match == "gap":
            word = fill_gap(template, answer)
            rewards[i] = float(word is not None and not truths[i][0].isdisjoint(lemmatizer.lemmas(word)))
        else:
            answered.append(i)
            answers.append(answer)
    for i, predicted in zip(answered, _safe_verb_lemmas(lemmatizer, answers)):
        rewards[i] = float(predicted is not None and all(not truth.isdisjoint(predicted) for truth in truths[i]))
    return rewards


def _safe_verb_lemmas(lemmatizer: VerbLemmatizer, answers: list[str]) -> list[set[str] | None]:
    """`_answer_verb_lemmas` batched, or answer by answer when the batch fails (``None``: that answer failed)."""
    try:
        return _answer_verb_lemmas(lemmatizer, answers)
    except Exception:  # noqa: BLE001  (a malformed answer scores 0, it never stops a training step)
        out = []
        for answer in answers:
            try:
                out.extend(_answer_verb_lemmas(lemmatizer, [answer]))
            except Exception:  # noqa: BLE001
                out.append(None)
        return out


def action_recognition_reward(
    prompts=None, completions=None, lemmatizer: VerbLemmatizer | None = None, **kwargs
) -> list[float | None]:
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
        rewards[i] = float(len(words) == 1 and not truth.isdisjoint(lemmatizer.lemmas(_readable(words[0]))))
    return rewards


def video_description_reward(
    prompts=None, completions=None, lemmatizer: VerbLemmatizer | None = None, **kwargs
) -> list[float | None]:
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
            descriptions.append(_readable(answer))
            truths.append(truth)
    try:
        hits = lemmatizer.has_verb(descriptions, truths)
    except Exception:  # noqa: BLE001  (one answer never stops a training step: score the rows one by one)
        hits = []
        for description, truth in zip(descriptions, truths):
            try:
                hits.extend(lemmatizer.has_verb([description], [truth]))
            except Exception:  # noqa: BLE001
                hits.append(False)
    for i, hit in zip(described, hits):
        rewards[i] = float(hit)
    return rewards
