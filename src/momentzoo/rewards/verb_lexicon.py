"""English verb lemmas without a trained pipeline: spaCy's rule lemmatizer, re-implemented over its tables.

spaCy's English pipelines lemmatize in ``rule`` mode: a token tagged as a verb is looked up in a table of
irregular forms (``lemma_exc``), then reduced by suffix rules (``-s``, ``-ies``, ``-es``, ``-ed``, ``-ing``)
whose results are kept when they are known base forms (``lemma_index``); ``VB``/``VBP`` tokens are already
base forms. :class:`VerbLexicon` applies exactly that algorithm (``spacy.lang.en.EnglishLemmatizer``) to
the verb tables, so it gives spaCy's lemma for any verb form, not only for a fixed list of inflections.

The tables come from a loaded spaCy pipeline (:meth:`VerbLexicon.from_spacy`) or from the bundled asset
``assets/verb_lemmas.json.gz`` (:meth:`VerbLexicon.default`, 40 KB), written by
``python -m momentzoo.rewards.build_verb_lexicon`` from ``en_core_web_sm``. The asset also carries
``non_verbs``: word forms that are in the verb tables but that spaCy's tagger almost never tags as verbs in
Charades-STA queries ("light", "phone", "back", ...), used when verbs must be found without a tagger.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "VerbLexicon",
    "VerbToken",
    "ASSET_PATH",
    "AUXILIARY_FORMS",
    "DETERMINERS",
    "lexicon_verb_tokens",
    "word_spans",
]

ASSET_PATH = Path(__file__).parent / "assets" / "verb_lemmas.json.gz"

# Forms spaCy's attribute ruler makes AUX when tagged VB* (en_core_web_sm 3.8), plus the modals (tag MD).
AUXILIARY_FORMS = frozenset(
    "be am 'm is 's are 're was were been being have 've has had 'd do does did of "
    "can could may might must shall should will would ought".split()
)
# A word right after one of these is a noun ("the open door", "a book") when no tagger says otherwise.
DETERMINERS = frozenset(
    "a an the his her their its my your our this these those some any each every another no".split()
)
_BASE_TAGS = frozenset({"VB", "VBP"})  # spaCy: VerbForm=Inf, or Fin|Pres without Number -> already a lemma
_ALL_TAGS = ("VB", "VBD", "VBG", "VBN", "VBP", "VBZ", None)
_WORD_RE = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+){0,3}")
_CACHE_LIMIT = 200_000


class VerbToken(NamedTuple):
    """A verb found in a text: its surface form, lemma and character span ``text[start:end]``."""

    text: str
    lemma: str
    start: int
    end: int
    tag: str | None = None


class VerbLexicon:
    """spaCy's English verb rule lemmatizer over explicit tables (see module doc)."""

    def __init__(
        self,
        rules: Sequence[Sequence[str]],
        index: Iterable[str],
        exceptions: dict[str, Sequence[str]],
        non_verbs: Iterable[str] = (),
        source: str = "",
    ):
        self.rules = tuple((str(old), str(new)) for old, new in rules)
        self.index = frozenset(index)
        self.exceptions = {str(k): tuple(v) for k, v in exceptions.items()}
        self.non_verbs = frozenset(non_verbs)
        self.source = source
        if not self.rules or not self.index:
            raise ValueError(f"verb lexicon {source!r} has no rules or no index: not an English verb table")
        self._lemma_cache: dict[tuple[str, str | None], str] = {}
        self._lemmas_cache: dict[str, frozenset[str]] = {}
        self._possible_cache: dict[str, frozenset[str]] = {}

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path = ASSET_PATH) -> VerbLexicon:
        path = Path(path)
        try:
            with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read the verb lexicon {path}: {err}") from err
        missing = {"rules", "index", "exceptions", "non_verbs"} - set(data)
        if missing:
            raise ValueError(f"verb lexicon {path} lacks the fields {sorted(missing)}")
        return cls(
            data["rules"], data["index"], data["exceptions"], data["non_verbs"], source=data.get("source", str(path))
        )

    _default: VerbLexicon | None = None

    @classmethod
    def default(cls) -> VerbLexicon:
        """The bundled asset, loaded once."""
        if cls._default is None:
            cls._default = cls.load(ASSET_PATH)
        return cls._default

    @classmethod
    def from_spacy(cls, nlp, non_verbs: Iterable[str] | None = None) -> VerbLexicon | None:
        """The verb tables of a loaded spaCy pipeline's rule lemmatizer (``None`` if it has none);
        `non_verbs` defaults to the bundled asset's list."""
        if "lemmatizer" not in nlp.component_names:
            return None
        lookups = nlp.get_pipe("lemmatizer").lookups
        tables = {}
        for name in ("lemma_rules", "lemma_index", "lemma_exc"):
            if not lookups.has_table(name) or "verb" not in lookups.get_table(name):
                return None
            tables[name] = lookups.get_table(name)["verb"]
        meta = nlp.meta
        return cls(
            tables["lemma_rules"],
            tables["lemma_index"],
            dict(tables["lemma_exc"]),
            cls.default().non_verbs if non_verbs is None else non_verbs,
            source=f"spaCy {meta.get('lang', 'en')}_{meta.get('name', '?')} {meta.get('version', '?')}",
        )

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "rules": [list(r) for r in self.rules],
            "index": sorted(self.index),
            "exceptions": {k: list(v) for k, v in sorted(self.exceptions.items())},
            "non_verbs": sorted(self.non_verbs),
        }

    # -- lemmatization ------------------------------------------------------------------------------------
    def lemma_for_tag(self, word: str, tag: str | None = None) -> str:
        """The lemma spaCy gives `word` tagged as a verb with Penn tag `tag` (``VB``, ``VBD``, ``VBG``,
        ``VBN``, ``VBP``, ``VBZ``). ``tag=None`` means no context: irregular forms first, then suffix rules,
        then the word itself when it is a known base form ("undress" stays "undress")."""
        key = (word, tag)
        cached = self._lemma_cache.get(key)
        if cached is not None:
            return cached
        string = word.lower()
        if tag in _BASE_TAGS:
            result = string
        else:
            forms, oov_forms = self._rule_forms(string)
            for form in self.exceptions.get(string, ()):
                if form not in forms:
                    forms.insert(0, form)
            if not forms and tag is None and string in self.index:
                forms = [string]
            result = (forms or oov_forms or [string])[0]
        self._cache_put(self._lemma_cache, key, result)
        return result

    def lemma(self, word: str) -> str:
        """`word` lemmatized as a verb, without context (``lemma_for_tag(word, None)``)."""
        return self.lemma_for_tag(word, None)

    def lemmas(self, word: str) -> frozenset[str]:
        """Every reading of `word` as a verb, for matching without context: the word itself when it is a
        base form, its irregular lemmas and the base forms its suffix rules reach (``lay`` -> ``{"lay",
        "lie"}``, ``closing`` -> ``{"close"}``); for an unknown verb, every suffix rule's guess (``zorbed`` ->
        ``{"zorbe", "zorb"}``, so it still matches ``zorbs``)."""
        cached = self._lemmas_cache.get(word)
        if cached is None:
            string = word.lower()
            forms, oov_forms = self._rule_forms(string)
            readings = {f for f in forms if f in self.index} | set(self.exceptions.get(string, ()))
            if string in self.index:
                readings.add(string)
            if not readings:  # an unknown verb: every rule's guess ("zorbed" -> zorbe or zorb)
                readings = {self.lemma(string), *forms, *oov_forms}
            cached = frozenset(readings)
            self._cache_put(self._lemmas_cache, word, cached)
        return cached

    def possible_lemmas(self, word: str) -> frozenset[str]:
        """Every lemma :meth:`lemma_for_tag` can give `word` under any tag: a superset of what a tagger-based
        lemmatizer can return for this token, so a word with none of a set of lemmas here cannot be one."""
        cached = self._possible_cache.get(word)
        if cached is None:
            cached = frozenset(self.lemma_for_tag(word, tag) for tag in _ALL_TAGS) | self.lemmas(word)
            self._cache_put(self._possible_cache, word, cached)
        return cached

    @staticmethod
    def _cache_put(cache: dict, key, value) -> None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = value

    def is_verb_form(self, word: str) -> bool:
        """Whether `word` is a known verb form: a base form, an irregular form or a regular inflection of one."""
        string = word.lower()
        if string in self.index or string in self.exceptions:
            return True
        return any(form in self.index for form in self._rule_forms(string)[0])

    def _rule_forms(self, string: str) -> tuple[list[str], list[str]]:
        # spaCy's order: a rule result that is a known base form goes to the front, so the last matching rule wins.
        forms: list[str] = []
        oov: list[str] = []
        for old, new in self.rules:
            if string.endswith(old):
                form = string[: len(string) - len(old)] + new
                if not form:
                    continue
                if form in self.index:
                    forms.insert(0, form)
                elif not form.isalpha():
                    forms.append(form)
                else:
                    oov.append(form)
        return list(dict.fromkeys(forms)), oov


def word_spans(text: str) -> list[tuple[str, int, int]]:
    """Words (letters, with inner apostrophes) of `text` with their character spans."""
    return [(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(text)]


def lexicon_verb_tokens(
    lexicon: VerbLexicon, words: Sequence[tuple[str, int, int]], use_non_verbs: bool = True
) -> list[VerbToken]:
    """Verbs found without a tagger: known verb forms that are not auxiliaries, not right after a
    determiner and (``use_non_verbs``) not in the lexicon's ``non_verbs``. Less precise than a tagger: it
    finds "sits" and "walks" in "a person sits, then walks", but also a noun that is also a verb form and
    does not follow a determiner ("cups and plates": plat)."""
    found = []
    previous = ""
    for text, start, end in words:
        lower = text.lower()
        if (
            len(lower) > 1
            and lower not in AUXILIARY_FORMS
            and not (use_non_verbs and lower in lexicon.non_verbs)
            and previous not in DETERMINERS
            and lexicon.is_verb_form(lower)
        ):
            found.append(VerbToken(text, lexicon.lemma(lower), start, end, None))
        previous = lower
    return found
