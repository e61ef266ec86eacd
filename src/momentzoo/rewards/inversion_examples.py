"""Build inversion-task rows from grounding queries: pick the query's verb, mask it, name each task's target.

Every row has the same keys whatever the task, so rows of different tasks fit one ``datasets`` table:

* ``task``: ``"vc"``, ``"ar"`` or ``"vd"``;
* ``query``: the grounding query (the AR reward's column);
* ``verb``, ``verb_lemma``: the chosen verb as written and its lemma (the VC and VD rewards' column);
* ``masked_query``: the query with every (non-auxiliary) verb replaced by ``[]``, as the paper masks
  (``mask="one"``: only the chosen verb); the VC prompt and reward column;
* ``query_verbs``: sorted lemmas of all the query's verbs (what an AR answer may name);
* ``target``: a reference answer for supervised warm-up and evaluation: the query (VC, VD) or the verb
  lemma (AR).

The chosen verb is the query's first verb that is not an aspectual or light verb ("begins", "starts",
"tries", "gets", ...) when it has another one ("person begins to [play] on a phone"), else its first verb.
"""

from __future__ import annotations

from collections.abc import Sequence

from .common import GAP, INVERSION_TASKS
from .lemmatizer import VerbLemmatizer, default_lemmatizer
from .verb_lexicon import VerbToken

__all__ = [
    "build_inversion_example",
    "build_inversion_examples",
    "select_target_verb",
    "mask_verbs",
    "MASKS",
    "LIGHT_VERBS",
]

LIGHT_VERBS = frozenset("begin start continue proceed try attempt keep seem appear stop finish go get".split())


def select_target_verb(verbs: Sequence[VerbToken]) -> VerbToken | None:
    """The verb an inversion task is built on (see module doc), ``None`` if there is none."""
    for verb in verbs:
        if verb.lemma not in LIGHT_VERBS:
            return verb
    return verbs[0] if verbs else None


MASKS = ("all", "one")


def mask_verbs(query: str, verbs: Sequence[VerbToken]) -> str:
    """`query` with each of `verbs` (found in it, in order) replaced by the gap marker ``[]``."""
    pieces, end = [], 0
    for verb in sorted(verbs, key=lambda v: v.start):
        pieces += [query[end : verb.start], GAP]
        end = verb.end
    return "".join(pieces) + query[end:]


def build_inversion_examples(
    queries: Sequence[str], task: str | Sequence[str], lemmatizer: VerbLemmatizer | None = None, mask: str = "all"
) -> list[dict]:
    """One inversion row per query (see module doc); `task` is one task for all or one per query; `mask` is
    ``"all"`` (every non-auxiliary verb of the query is masked, the paper) or ``"one"`` (the chosen verb only).

    Raises ``ValueError`` naming the query when it has no verb (``select_target_verb`` lets a caller filter
    such queries first) or when a task is not one of ``vc``, ``ar``, ``vd``.
    """
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {MASKS}, got {mask!r}")
    tasks = [task] * len(queries) if isinstance(task, str) else list(task)
    if len(tasks) != len(queries):
        raise ValueError(f"got {len(queries)} queries but {len(tasks)} tasks")
    for i, t in enumerate(tasks):
        if t not in INVERSION_TASKS:
            raise ValueError(f"task {i} is {t!r}; inversion tasks are {INVERSION_TASKS}")
    for i, q in enumerate(queries):
        if not isinstance(q, str) or not q.strip():
            raise ValueError(f"query {i} must be a non-empty string, got {q!r}")
        if GAP in q:
            raise ValueError(f"query {i} {q!r} already contains the gap marker {GAP!r}")
    lemmatizer = lemmatizer or default_lemmatizer()
    rows = []
    for i, (query, t, verbs) in enumerate(zip(queries, tasks, lemmatizer.verb_tokens(list(queries)))):
        verb = select_target_verb(verbs)
        if verb is None:
            raise ValueError(f"query {i} {query!r} has no verb to build a {t!r} inversion example from")
        rows.append(
            {
                "task": t,
                "query": query,
                "verb": verb.text,
                "verb_lemma": verb.lemma,
                "masked_query": mask_verbs(query, verbs if mask == "all" else [verb]),
                "query_verbs": sorted({v.lemma for v in verbs}),
                "target": verb.lemma if t == "ar" else query,
            }
        )
    return rows


def build_inversion_example(query: str, task: str, lemmatizer: VerbLemmatizer | None = None, mask: str = "all") -> dict:
    """``build_inversion_examples([query], task, lemmatizer, mask)[0]``."""
    return build_inversion_examples([query], task, lemmatizer, mask)[0]
