"""Grounding and inversion rewards with TRL's signature, task gating and composition, the example builder."""

import json
import math

import pytest
import torch

from momentzoo.rewards import (
    MIXED_REWARD_FUNCS,
    TASK_REWARD_FUNCS,
    action_recognition_reward,
    build_inversion_example,
    build_inversion_examples,
    fill_gap,
    format_reward,
    grounding_format_reward,
    iou_reward,
    task_rewards,
    temporal_iou,
    verb_completion_reward,
    video_description_reward,
)
from momentzoo.rewards.parsing import MAX_COMPLETION_CHARS
from momentzoo.segments import segment_iou

# What TRL passes besides the dataset columns.
TRL_KWARGS = {"completion_ids": None, "trainer_state": None, "log_extra": None, "log_metric": None}


def answer(text: str) -> str:
    return f"<think>Looking at the clip.</think> <answer>{text}</answer>"


MALFORMED = [
    "",
    "   ",
    "<answer></answer>",
    "<answer>   </answer>",
    "<think>never closed",
    "<answer><answer>x</answer></answer>",
    "<answer>a</answer><answer>b</answer>",
    "\x00\x01\ufffd",
    "<answer>" + "closes " * 10_000 + "</answer>",
    "<answer>" + "a" * (MAX_COMPLETION_CHARS + 10) + "</answer>",
    "<answer>" + "x" * 1_000_000 + "</answer>",
    "1e309 to inf",
    "<answer>-3 to -1</answer>",
    [],
    [{"role": "assistant", "content": None}],
    [{"role": "assistant"}],
]


# -- grounding --------------------------------------------------------------------------------------------
def test_format_reward():
    completions = [
        answer("12.3 to 15"),
        answer("a person opens the door"),
        "<answer>12.3 to 15</answer>",
        answer("12.3 to 15") + " trailing",
        [{"role": "assistant", "content": answer("1 to 2")}],
    ]
    assert format_reward(completions=completions, **TRL_KWARGS) == [1.0, 1.0, 0.0, 0.0, 1.0]
    assert grounding_format_reward(completions=completions) == [1.0, 0.0, 0.0, 0.0, 1.0]
    # with a task column the TVG rows need a window, the others any answer
    tasks = ["tvg", "vc", "tvg", "vc", "ar"]
    assert format_reward(completions=[answer("a sentence")] * 5, task=tasks) == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert grounding_format_reward(completions=[answer("1 to 2")] * 5, task=tasks) == [1.0, None, 1.0, None, None]


def test_iou_reward_values():
    completions = [answer("0 to 5"), answer("from 2.5s to 7.5s"), answer("20 to 30"), answer("5 to 0"), "no window"]
    windows = [[[0.0, 10.0]]] * 5
    assert iou_reward(completions=completions, windows=windows, **TRL_KWARGS) == pytest.approx(
        [0.5, 0.5, 0.0, 0.0, 0.0]
    )
    # several ground-truth windows: the best one counts; `solution` accepts a bare pair
    assert iou_reward(completions=[answer("10 to 20")], windows=[[[0.0, 5.0], [10.0, 30.0]]]) == pytest.approx([0.5])
    assert iou_reward(completions=[answer("1 to 3")], solution=[(1, 2)]) == pytest.approx([0.5])
    assert iou_reward(completions=[answer("1 to 3")], solution=[torch.tensor([1.0, 3.0])]) == [1.0]
    # the grounding-row column wins over `solution`
    assert iou_reward(completions=[answer("1 to 3")], windows=[[[1, 3]]], solution=[[50, 60]]) == [1.0]


def test_temporal_iou_matches_segment_iou():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(50, 2, generator=g).sort(dim=1).values * 30
    b = torch.rand(40, 2, generator=g).sort(dim=1).values * 30
    expected = segment_iou(a.double(), b.double())
    got = torch.tensor([[temporal_iou(x.tolist(), y.tolist()) for y in b.double()] for x in a.double()])
    torch.testing.assert_close(got, expected.to(got.dtype))
    assert temporal_iou((1.0, 1.0), (1.0, 1.0)) == 0.0


@pytest.mark.parametrize("bad", MALFORMED)
def test_iou_reward_malformed_is_zero(bad):
    assert iou_reward(completions=[bad], windows=[[[0.0, 10.0]]]) == [0.0]
    assert format_reward(completions=[bad]) == [0.0]


def test_iou_reward_schema_errors():
    with pytest.raises(ValueError, match=r"needs the dataset column 'windows' or 'solution'"):
        iou_reward(completions=[answer("1 to 2")], query=["q"], **TRL_KWARGS)
    with pytest.raises(ValueError, match=r"column 'windows' must hold one value per completion \(2\), got 1"):
        iou_reward(completions=[answer("1 to 2")] * 2, windows=[[[0, 1]]])
    for gt, message in [
        ([[5.0, 1.0]], "0 <= start < end"),
        ([[1.0, 1.0]], "0 <= start < end"),
        ([[-1.0, 1.0]], "0 <= start < end"),
        ([[0.0, math.nan]], "0 <= start < end"),
        ([], "non-empty list"),
        ("0 to 1", "non-empty list"),
        ([[0.0, 1.0, 2.0]], r"\[start, end\] pairs"),
    ]:
        with pytest.raises(ValueError, match=rf"iou_reward: row 1: column 'windows': .*{message}"):
            iou_reward(completions=[answer("1 to 2")] * 2, windows=[[[0, 1]], gt])
    with pytest.raises(ValueError, match="`completions` must be a list"):
        iou_reward(completions=None, windows=[])
    with pytest.raises(ValueError, match=r"row 0: column 'task' must be one of"):
        iou_reward(completions=[answer("1 to 2")], windows=[[[0, 1]]], task=["grounding"])


# -- verb completion -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "template, text, word",
    [
        ("Person [] the door.", "Person closes the door.", "closes"),
        ("Person [] the door.", "person [CLOSES] the door", "closes"),
        ("Person [] the door.", "closes", "closes"),  # the bare word
        ("Person [] the door.", "Person is slowly closing the door", None),  # two words left in the gap
        ("Person [] the door.", "Person is closing the door", "closing"),  # auxiliaries dropped
        ("Person [] the door.", "The person closes the door.", None),  # the template's words must be kept
        ("Person [] the door.", "Person closes the window.", None),
        ("Person [] the door.", "Person the door.", None),
        ("Person [] the door.", "Person [] the door.", None),
        ("[] the door", "Open the door", "open"),
        ("a person is [] a book.", "A person is putting a book.", "putting"),
    ],
)
def test_fill_gap(template, text, word):
    assert fill_gap(template, text) == word


def test_verb_completion_paper_example_and_tenses(lemmatizer):
    template = "Person [] the door."
    completions = [
        answer("Person [closes] the door."),  # the paper's example
        answer("Person closed the door."),
        answer("Person closing the door."),
        answer("Person is closing the door"),
        answer("close"),
        [{"role": "assistant", "content": answer("Person closes the door.")}],
        answer("Person opens the door."),
        answer("Person kicks the door."),
        answer("The door is closed by the person."),
    ]
    rewards = verb_completion_reward(
        completions=completions, masked_query=[template] * 9, verb=["closes"] * 9, lemmatizer=lemmatizer, **TRL_KWARGS
    )
    # The paper's reward: the masked verb among the answer's verbs, however the sentence is phrased (the passive too).
    assert rewards == [1.0] * 6 + [0.0] * 2 + [1.0]
    # match="gap", the older reward: the answer must keep the template's words around the one filled gap.
    gap = verb_completion_reward(
        completions=completions, masked_query=[template] * 9, verb=["closes"] * 9, lemmatizer=lemmatizer, match="gap"
    )
    assert gap == [1.0] * 6 + [0.0] * 3
    # irregular forms both ways
    assert verb_completion_reward(
        completions=[
            answer("Person ran to the door."),
            answer("Person runs to the door."),
            answer("Person walked to the door."),
        ],
        masked_query=["Person [] to the door."] * 3,
        verb=["running"] * 3,
        lemmatizer=lemmatizer,
    ) == [1.0, 1.0, 0.0]


@pytest.mark.parametrize("bad", MALFORMED)
def test_verb_completion_malformed_is_zero(bad, lookup_lemmatizer):
    assert verb_completion_reward(
        completions=[bad], masked_query=["Person [] the door."], verb=["closes"], lemmatizer=lookup_lemmatizer
    ) == [0.0]


def test_verb_completion_schema_errors(lookup_lemmatizer):
    kwargs = {"completions": [answer("closes")], "lemmatizer": lookup_lemmatizer}
    with pytest.raises(ValueError, match="needs the dataset column 'masked_query'"):
        verb_completion_reward(verb=["closes"], **kwargs)
    with pytest.raises(ValueError, match="needs the dataset column 'verb'"):
        verb_completion_reward(masked_query=["Person [] the door"], **kwargs)
    with pytest.raises(ValueError, match=r"row 0: column 'masked_query' must hold a '\[\]' gap"):
        verb_completion_reward(masked_query=["Person closes the door"], verb=["closes"], **kwargs)
    with pytest.raises(ValueError, match=r"row 0: column 'masked_query' must hold exactly one '\[\]' gap"):
        verb_completion_reward(masked_query=["Person [] the [] door"], verb=["closes"], match="gap", **kwargs)
    with pytest.raises(ValueError, match=r"row 0: column 'masked_query' .* is not column 'query'"):
        verb_completion_reward(masked_query=["Person [] the door"], query=["Person opens a window"], **kwargs)
    with pytest.raises(ValueError, match=r"is not column .query. None"):
        verb_completion_reward(masked_query=["Person [] the [] door"], verb=["closes"], **kwargs)
    with pytest.raises(ValueError, match="match must be"):
        verb_completion_reward(masked_query=["Person [] the door"], verb=["closes"], match="word", **kwargs)
    with pytest.raises(ValueError, match=r"row 0: column 'verb' must be a non-empty string"):
        verb_completion_reward(masked_query=["Person [] the door"], verb=[None], **kwargs)


def test_verb_completion_all_masked_verbs_must_appear(lemmatizer):
    """The paper masks every verb of the query: the answer must name all of them (by lemma), in any wording."""
    query = "a person walks in a doorway drinking some coffee."
    example = build_inversion_example(query, "vc", lemmatizer)
    assert example["masked_query"] == "a person [] in a doorway [] some coffee."
    completions = [
        answer("a person walks in a doorway drinking some coffee."),
        answer("someone walked through the doorway while he drank coffee"),
        answer("a person walks in a doorway holding some coffee."),  # one of the two verbs is wrong
        answer("drinking"),
        "a person walks in a doorway drinking some coffee.",  # no answer tags: the reward reads tagged answers only
    ]
    n = len(completions)
    rewards = verb_completion_reward(
        completions=completions, masked_query=[example["masked_query"]] * n, query=[query] * n, lemmatizer=lemmatizer
    )
    assert rewards == [1.0, 1.0, 0.0, 0.0, 0.0]
    one = build_inversion_example(query, "vc", lemmatizer, mask="one")
    assert one["masked_query"] == "a person [] in a doorway drinking some coffee."
    assert verb_completion_reward(
        completions=[answer("he walked")], masked_query=[one["masked_query"]], query=[query], lemmatizer=lemmatizer
    ) == [1.0]


def test_masked_words():
    from momentzoo.rewards.inversion import masked_words

    assert masked_words(
        "a person [] in a doorway [] some coffee.", "a person walks in a doorway drinking some coffee."
    ) == ["walks", "drinking"]
    assert masked_words("[] the door", "Open the door") == ["Open"]
    assert masked_words("a person [] it", "a person opens the door") is None


def test_inversion_rewards_never_raise_on_unencodable_text(lemmatizer):
    """A lone surrogate (half an emoji) made spaCy raise inside the VD reward, which would kill a GRPO step."""
    texts = [answer("a person \ud800 closes the door"), answer("\udfff"), "<answer>\ud83d</answer>"]
    n = len(texts)
    assert video_description_reward(completions=texts, verb=["closes"] * n, lemmatizer=lemmatizer) == [1.0, 0.0, 0.0]
    assert verb_completion_reward(
        completions=texts,
        masked_query=["a person [] the door"] * n,
        query=["a person closes the door"] * n,
        lemmatizer=lemmatizer,
    ) == [1.0, 0.0, 0.0]
    assert action_recognition_reward(
        completions=[answer("clos\ud800e")], query=["a person closes it"], lemmatizer=lemmatizer
    ) == [0.0]


def test_iou_reward_needs_answer_tags():
    texts = ["<think>x</think> 2 to 4", "<answer>2 to 4</answer>", "<think>x</think> <answer>2 to 4"]
    assert iou_reward(completions=texts, windows=[[[2.0, 4.0]]] * 3) == [0.0, 1.0, 0.0]
    assert iou_reward(completions=texts, windows=[[[2.0, 4.0]]] * 3, strict=False) == [1.0, 1.0, 1.0]


def test_answer_format_reward_for_inversion_tasks():
    from momentzoo.rewards import answer_format_reward

    texts = ["<answer>close</answer>", answer("close"), "close", "<answer> </answer>", "<answer>a</answer> trailing"]
    assert answer_format_reward(completions=texts) == [1.0, 1.0, 0.0, 0.0, 0.0]
    # format_reward with a task column: TVG needs think + window, inversion rows the answer block.
    assert format_reward(completions=["<answer>close</answer>", "<answer>1 to 2</answer>"], task=["ar", "tvg"]) == [
        1.0,
        0.0,
    ]


# -- action recognition ---------------------------------------------------------------------------------------
def test_action_recognition_paper_example_and_tenses(lemmatizer):
    query = "A person walks away and laughs"
    completions = [
        answer("walk"),
        answer("Walking."),
        answer("walked"),
        answer("laugh"),
        answer("laughing"),
        answer("run"),
        answer("walk away"),
        answer("a person walks"),
        answer("person"),
        answer("walks, laughs"),
    ]
    rewards = action_recognition_reward(
        completions=completions, query=[query] * len(completions), lemmatizer=lemmatizer, **TRL_KWARGS
    )
    assert rewards == [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    ran = action_recognition_reward(
        completions=[answer("run"), answer("ran"), answer("running"), answer("sit")],
        query=["the person ran out of the room."] * 4,
        lemmatizer=lemmatizer,
    )
    assert ran == [1.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("bad", MALFORMED)
def test_action_recognition_malformed_is_zero(bad, lookup_lemmatizer):
    assert action_recognition_reward(
        completions=[bad], query=["A person walks away"], lemmatizer=lookup_lemmatizer
    ) == [0.0]


# -- video description ----------------------------------------------------------------------------------------
def test_video_description_paper_example_and_tenses(lemmatizer):
    descriptions = [
        "A person jumps and laughs",  # the paper's example
        "The man jumped over the couch.",
        "Someone is jumping on the bed while laughing.",
        "A person sits on the couch and laughs.",
        "The jump was high.",  # a noun, not the verb
        "jump",
    ]
    rewards = video_description_reward(
        completions=[answer(d) for d in descriptions], verb=["jump"] * 6, lemmatizer=lemmatizer, **TRL_KWARGS
    )
    assert rewards[:4] == [1.0, 1.0, 1.0, 0.0] and rewards[5] == 1.0
    if lemmatizer.backend == "spacy":
        assert rewards[4] == 0.0  # the tagger tells the noun apart; the lookup table cannot
    # the ground-truth verb may be given inflected, as it appears in the query
    assert video_description_reward(
        completions=[answer("She closed the fridge.")], verb=["closing"], lemmatizer=lemmatizer
    ) == [1.0]


@pytest.mark.parametrize("bad", MALFORMED)
def test_video_description_malformed_is_zero(bad, lookup_lemmatizer):
    assert video_description_reward(completions=[bad], verb=["close"], lemmatizer=lookup_lemmatizer) == [0.0]


# -- mixing tasks ---------------------------------------------------------------------------------------------
def _mixed_batch():
    completions = [
        answer("0 to 5"),  # tvg: format 1 + IoU 0.5
        answer("a person closes the door"),  # tvg: no window -> format 0, IoU 0
        answer("Person [closes] the door."),  # vc: 1 + 1
        answer("walk"),  # ar: 1 + 1
        "<answer>walk</answer>",  # ar: 1 + 1 (the inversion prompts ask for the answer block alone)
        answer("A person jumps and laughs"),  # vd: 1 + 1
    ]
    columns = {
        "task": ["tvg", "tvg", "vc", "ar", "ar", "vd"],
        "windows": [[[0.0, 10.0]], [[0.0, 10.0]], None, None, None, None],
        "masked_query": [None, None, "Person [] the door.", None, None, None],
        "verb": [None, None, "closes", None, None, "jump"],
        "query": [
            "q",
            "q",
            "Person closes the door.",
            "A person walks away and laughs",
            "A person walks away",
            "A person jumps",
        ],
    }
    return completions, columns


def test_task_gating_and_trl_sum(lemmatizer):
    completions, columns = _mixed_batch()
    per_func = []
    for func in MIXED_REWARD_FUNCS:
        kwargs = (
            {"lemmatizer": lemmatizer}
            if func.__name__.endswith(("completion_reward", "recognition_reward", "description_reward"))
            else {}
        )
        per_func.append(func(prompts=["p"] * 6, completions=completions, **columns, **TRL_KWARGS, **kwargs))
    assert per_func[1] == [0.5, 0.0, None, None, None, None]  # iou_reward scores TVG rows only
    assert per_func[2] == [None, None, 1.0, None, None, None]
    assert per_func[3] == [None, None, None, 1.0, 1.0, None]
    assert per_func[4] == [None, None, None, None, None, 1.0]
    # TRL: None -> NaN, then nansum over functions; every row is r_format + its own task's reward
    table = torch.tensor([[math.nan if v is None else v for v in col] for col in per_func]).T
    assert table.nansum(dim=1).tolist() == [1.5, 0.0, 2.0, 2.0, 2.0, 2.0]
    assert not torch.isnan(table).all(dim=1).any()  # every row is scored by something


def test_task_rewards_and_task_funcs(spacy_lemmatizer):
    completions, columns = _mixed_batch()
    assert task_rewards(completions=completions, **columns) == [1.5, 0.0, 2.0, 2.0, 2.0, 2.0]
    assert set(TASK_REWARD_FUNCS) == {"tvg", "vc", "ar", "vd"}
    # one task for the whole batch: its two functions, no task column needed
    tvg = [f(completions=completions[:2], windows=columns["windows"][:2]) for f in TASK_REWARD_FUNCS["tvg"]]
    assert [a + b for a, b in zip(*tvg)] == [1.5, 0.0]
    assert task_rewards(completions=[answer("walk")], task="ar", query=["A person walks"]) == [2.0]
    # a reward with no row of its task neither needs its columns nor scores anything
    assert iou_reward(completions=[answer("walk")], task=["ar"]) == [None]
    with pytest.raises(ValueError, match="task must be one of"):
        task_rewards(completions=[answer("walk")], task="grounding")
    with pytest.raises(ValueError, match="needs a `task` column"):
        task_rewards(completions=[answer("walk")], query=["A person walks"])


# -- building inversion examples ------------------------------------------------------------------------------
def test_build_inversion_example(lemmatizer):
    vc = build_inversion_example("Person closes the door.", "vc", lemmatizer)
    assert vc == {
        "task": "vc",
        "query": "Person closes the door.",
        "verb": "closes",
        "verb_lemma": "close",
        "masked_query": "Person [] the door.",
        "query_verbs": ["close"],
        "target": "Person closes the door.",
    }
    ar = build_inversion_example("A person walks away and laughs", "ar", lemmatizer)
    assert (ar["verb"], ar["target"], ar["query_verbs"]) == ("walks", "walk", ["laugh", "walk"])
    vd = build_inversion_example("person begins to play on a phone.", "vd", lemmatizer)
    assert (vd["verb"], vd["masked_query"]) == ("play", "person [] to [] on a phone.")  # every verb masked (the paper)
    one = build_inversion_example("person begins to play on a phone.", "vd", lemmatizer, mask="one")
    assert one["masked_query"] == "person begins to [] on a phone."  # light verb skipped
    with pytest.raises(ValueError, match="mask must be one of"):
        build_inversion_example("person begins to play.", "vc", lemmatizer, mask="some")
    assert build_inversion_example("person starts laughing.", "vd", lemmatizer)["verb"] == "laughing"
    assert build_inversion_example("person begins.", "vc", lemmatizer)["verb"] == "begins"  # the only verb
    rows = build_inversion_examples(["A person jumps and laughs"] * 3, ["vc", "ar", "vd"], lemmatizer)
    assert [r["task"] for r in rows] == ["vc", "ar", "vd"] and len({tuple(r) for r in rows}) == 1  # one schema
    with pytest.raises(ValueError, match=r"query 0 'person with a flashlight.' has no verb"):
        build_inversion_example("person with a flashlight.", "vc", lemmatizer)
    with pytest.raises(ValueError, match=r"inversion tasks are"):
        build_inversion_example("Person closes the door.", "tvg", lemmatizer)
    with pytest.raises(ValueError, match=r"already contains the gap marker"):
        build_inversion_example("Person [] the door.", "vc", lemmatizer)
    with pytest.raises(ValueError, match=r"2 queries but 1 tasks"):
        build_inversion_examples(["a", "b"], ["vc"], lemmatizer)


def _score_reference_answers(rows, lemmatizer):
    funcs = {"vc": verb_completion_reward, "ar": action_recognition_reward, "vd": video_description_reward}
    columns = {key: [r[key] for r in rows] for key in rows[0]}
    completions = [answer(r["target"]) for r in rows]
    totals = [0.0] * len(rows)
    for task in ("vc", "ar", "vd"):
        for i, v in enumerate(funcs[task](completions=completions, lemmatizer=lemmatizer, **columns)):
            if v is not None:
                totals[i] += v
    return totals


@pytest.mark.real_data
def test_reference_answers_score_one_on_real_queries(lemmatizer, real_data):
    """Rows built from real Charades-STA queries: each task's reference answer earns its reward."""
    with open(real_data / "charades_sta" / "charades_sta_test.jsonl") as f:
        queries = list(dict.fromkeys(json.loads(line)["query"] for line in f))[:300]
    from momentzoo.rewards import select_target_verb

    usable = [q for q, verbs in zip(queries, lemmatizer.verb_tokens(queries)) if select_target_verb(verbs) is not None]
    assert len(usable) > 0.97 * len(queries)
    rows = build_inversion_examples(usable, [("vc", "ar", "vd")[i % 3] for i in range(len(usable))], lemmatizer)
    assert _score_reference_answers(rows, lemmatizer) == [1.0] * len(rows)


def test_random_garbage_never_raises(lemmatizer):
    """Seeded fuzz: random mixes of tags, numbers, words, unicode and control characters score in {0, 1}
    (IoU in [0, 1]) and never raise."""
    import random

    rng = random.Random(0)
    atoms = [
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "<",
        ">",
        "[]",
        "[",
        "]",
        " to ",
        " - ",
        " and ",
        "12.5",
        "-3",
        "1e9",
        "nan",
        "inf",
        "00:07",
        "99:99",
        "9" * 12,
        "closes",
        "walk",
        "jumped",
        "the",
        "door",
        "Person",
        ".",
        ",",
        "\n",
        "\t",
        "\x00",
        "\u200b",
        "\U0001f600",
        "\u0130",
        "'s",
        "n't",
        " ",
        "\\",
        "(?:",
        "*",
        "s",
    ]
    completions = ["".join(rng.choice(atoms) for _ in range(rng.randint(0, 40))) for _ in range(300)]
    n = len(completions)
    columns = {
        "windows": [[[1.0, 5.0]]] * n,
        "masked_query": ["Person [] the door."] * n,
        "verb": ["closes"] * n,
        "query": ["A person walks away and laughs"] * n,
    }
    for func in (format_reward, grounding_format_reward, iou_reward):
        values = func(completions=completions, **columns)
        assert all(0.0 <= v <= 1.0 for v in values)
    for func in (verb_completion_reward, action_recognition_reward, video_description_reward):
        values = func(completions=completions, lemmatizer=lemmatizer, **columns)
        assert set(values) <= {0.0, 1.0}
