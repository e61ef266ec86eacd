"""The answer parser shared by rewards, the grounding metric and the pipeline."""

import pytest

from momentzoo.rewards.parsing import (
    _WINDOW_RE,
    MAX_ANSWER_CHARS,
    MAX_COMPLETION_CHARS,
    completion_text,
    extract_answer,
    parse_format,
    parse_window,
    parse_windows,
)


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("12.3 to 15", (12.3, 15.0)),
        ("12.3 - 15", (12.3, 15.0)),
        ("12.3-15.0", (12.3, 15.0)),
        ("from 12.3s to 15s", (12.3, 15.0)),
        ("From 12.3 seconds to 15 seconds.", (12.3, 15.0)),
        ("between 12.3 and 15.0 seconds", (12.3, 15.0)),
        ("[12.3, 15.0]", (12.3, 15.0)),
        ("12.3 \u2013 15", (12.3, 15.0)),
        ("12 ~ 15", (12.0, 15.0)),
        ("The event happens from 3 until 7.5 sec in the video.", (3.0, 7.5)),
        ("00:12 to 00:15", (12.0, 15.0)),
        ("1:02:03.5 - 1:02:10", (3723.5, 3730.0)),
        ("1 to 2 minutes", (60.0, 120.0)),
        ("1.5 min to 90 s", (90.0, 90.0)),
        ("0 to 0", (0.0, 0.0)),  # zero length: a window, IoU 0 with anything
        ("15 to 12", None),  # reversed: no window
        ("-5 to 10", None),  # no negative times
        ("5 to -3", None),
        ("1e308 to 5", None),  # no exponents
        ("inf to nan", None),
        ("1234567890 to 1234567891", None),  # more than 9 integer digits
        ("1.1234567 to 2", None),  # more than 6 decimals
        ("00:75 to 01:00", None),  # seconds of a clock must be < 60
        ("around twelve seconds", None),
        ("12 steps", None),
        ("", None),
    ],
)
def test_window_grammar(answer, expected):
    got = parse_window(f"<think>reasoning</think> <answer>{answer}</answer>")
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_first_window_wins_and_parse_windows_lists_all_valid():
    text = "<answer>2 to 4, then 9 to 6 and 10 to 12</answer>"
    assert parse_window(text) == (2.0, 4.0)
    assert parse_windows(text) == [(2.0, 4.0), (10.0, 12.0)]  # the reversed one is not a window
    assert parse_window("<answer>9 to 6, then 2 to 4</answer>") is None  # the first window is what counts
    assert parse_windows("<answer>1 to 2 3 to 4 5 to 6</answer>", max_windows=2) == [(1.0, 2.0), (3.0, 4.0)]


@pytest.mark.parametrize(
    "text, tolerant, strict",
    [
        ("<think>t</think> <answer>x y</answer>", "x y", "x y"),
        ("<answer>  x  </answer>", "x", "x"),
        ("<think>t</think> <answer>cut off by max length", "cut off by max length", None),
        ("<think>t</think> after think", "after think", None),
        ("plain text", "plain text", None),
        ("<think>never closed 1 to 2", None, None),  # all of it is reasoning
        ("<answer>a</answer> <answer>b</answer>", None, None),  # two answers: ambiguous
        ("<answer><answer>1 to 2</answer></answer>", None, None),  # nested
        ("</answer>1 to 2<answer>", None, None),  # closing before opening
        ("1 to 2</answer>", None, None),
        ("<answer><think>1 to 2</think></answer>", None, None),  # think inside the answer
        ("<answer>   </answer>", None, None),
        ("<think>t</think>", None, None),
        ("", None, None),
    ],
)
def test_extract_answer(text, tolerant, strict):
    assert extract_answer(text) == tolerant
    assert extract_answer(text, strict=True) == strict


def test_extract_answer_non_strings_and_caps():
    for bad in (None, 3, b"<answer>1 to 2</answer>", ["<answer>1 to 2</answer>"]):
        assert extract_answer(bad) is None
        assert parse_window(bad) is None
        assert parse_format(bad) is False
    assert extract_answer("<answer>" + "a" * MAX_ANSWER_CHARS + "</answer>") == "a" * MAX_ANSWER_CHARS
    assert extract_answer("<answer>" + "a" * (MAX_ANSWER_CHARS + 1) + "</answer>") is None
    long = "<answer>1 to 2</answer>" + " " * MAX_COMPLETION_CHARS
    assert extract_answer(long) is None and parse_window(long) is None and not parse_format(long)


@pytest.mark.parametrize(
    "text",
    [
        "<think>r</think> <answer>a</answer>",
        "<think>r</think><answer>a</answer>",  # no space needed
        "\n  <think>multi\nline</think>\n\n<answer>a b</answer>\n",  # any whitespace around and between
        "<think>r</think>\t<answer>12.3 to 15</answer>",
    ],
)
def test_format_accepts(text):
    assert parse_format(text)


@pytest.mark.parametrize(
    "text",
    [
        "<think></think> <answer>a</answer>",  # blank reasoning
        "<think>r</think> <answer> </answer>",  # blank answer
        "prefix <think>r</think> <answer>a</answer>",
        "<think>r</think> <answer>a</answer> suffix",
        "<think>r</think> text <answer>a</answer>",
        "<answer>a</answer> <think>r</think>",
        "<think>r</think> <answer>a</answer><answer>b</answer>",
        "<think>r <think>x</think> <answer>a</answer>",
        "<think>r</think> <answer>a <answer>b</answer>",
        "<Think>r</Think> <Answer>a</Answer>",  # tags are exact
        "<think>r</think> <answer>a",
        "<think>r</think>",
        "",
    ],
)
def test_format_rejects(text):
    assert not parse_format(text)


def test_format_with_window():
    assert parse_format("<think>r</think> <answer>12.3 to 15</answer>", require_window=True)
    assert parse_format("<think>r</think> <answer>from 1s to 2s.</answer>", require_window=True)
    assert parse_format("<think>r</think> <answer>Between 00:01 and 00:05</answer>", require_window=True)
    assert not parse_format("<think>r</think> <answer>It is 12.3 to 15</answer>", require_window=True)
    assert not parse_format("<think>r</think> <answer>12.3 to 15 and 16 to 17</answer>", require_window=True)
    assert not parse_format("<think>r</think> <answer>15 to 12.3</answer>", require_window=True)
    assert not parse_format("<think>r</think> <answer>a person opens a door</answer>", require_window=True)
    assert parse_format("<think>r</think> <answer>a person opens a door</answer>")


def test_completion_text():
    assert completion_text("abc") == "abc"
    assert completion_text([{"role": "assistant", "content": "abc"}]) == "abc"
    assert (
        completion_text(
            [{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
        )
        == "ab"
    )
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    for unreadable in ([], [None], [{"role": "assistant"}], [{"role": "assistant", "content": None}]):
        assert completion_text(unreadable) == ""
    with pytest.raises(TypeError, match="completion must be a str"):
        completion_text(None)


def test_adversarial_inputs_are_linear():
    """No catastrophic backtracking: inputs built to trip a backtracking regex, at 1 MB, straight into the
    window pattern (the caps would otherwise stop them before it); a backtracking pattern takes hours."""
    size = 1_000_000
    adversarial = [
        "1" * size,
        "1 " * (size // 2),
        "1." * (size // 2),
        "1:" * (size // 2),
        "1 to " + "9" * size,
        ("12.3 " + " " * 3) * (size // 8),
        "1 -" * (size // 3),
        "s" * size,
        "<answer>" * (size // 8),
    ]
    for text in adversarial:
        _WINDOW_RE.search(text)
        assert parse_window(text) is None and not parse_format(text)
        assert parse_window(f"<answer>{text}</answer>") is None
    big = "<think>" + "1 to 2 " * (MAX_COMPLETION_CHARS // 8) + "</think> <answer>3 to 4</answer>"
    assert parse_format(big) and parse_window(big) == (3.0, 4.0)  # (benchmarks/bench_rewards.py times these)
