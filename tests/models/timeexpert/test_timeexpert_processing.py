"""TimeExpert's token format: timestamps, scores, event strings and their bad input; the task formatters."""

import pytest

from momentzoo.models.timeexpert import (
    TimeExpertEvent,
    TimeExpertFormatError,
    events_to_string,
    format_score,
    format_timestamp,
    parse_event_string,
    safe_parse_events,
)
from momentzoo.models.timeexpert.processing_timeexpert import TIME_VOCABULARY, TimeExpertTokenLayout, parse_timestamp
from momentzoo.testing.timeexpert import tiny_timeexpert_tokenizer
from momentzoo.training.timeexpert import format_timeexpert_example


def test_timestamps_round_trip_through_the_13_token_vocabulary():
    assert len(TIME_VOCABULARY) == 13
    assert format_timestamp(9.56) == "0009.6" and format_timestamp(102.84) == "0102.8"
    assert format_timestamp(9.55) == "0009.6" and format_timestamp(0) == "0000.0"
    layout = TimeExpertTokenLayout(text_vocab_size=100, text_sync_id=7, eos_token_id=2)
    ids = layout.timestamp_ids(9.56)
    assert [TIME_VOCABULARY[i - 100] for i in ids] == ["0", "0", "0", "9", ".", "6"]
    assert [TIME_VOCABULARY[i - 100] for i in layout.timestamp_ids(102.84)] == ["0", "1", "0", "2", ".", "8"]
    assert parse_timestamp("0102.8") == 102.8
    assert format_score(3.14) == "3.1" and format_score(10) == "10.0"


def test_events_encode_and_decode_with_their_heads():
    tokenizer = tiny_timeexpert_tokenizer()
    layout = TimeExpertTokenLayout(len(tokenizer), tokenizer.convert_tokens_to_ids("<sync>"), tokenizer.eos_token_id)
    events = [TimeExpertEvent([9.56, 102.84], [], ""), TimeExpertEvent([], [3.0, 1.25], "a person opens the door")]
    ids = layout.encode_events(events, tokenizer)
    assert ids[-1] == tokenizer.eos_token_id
    heads = [layout.head_of(i) for i in ids[:14]]
    assert heads == [1] * 14  # 6 + <sep> + 6 + <sync>, all time tokens
    assert ids[14] == layout.score_sync_id and ids[15] == layout.text_sync_id
    text = layout.decode_to_string(ids, tokenizer)
    assert text == "0009.6<sep>0102.8<sync><sync><sync><sync>3.0<sep>1.2<sync>a person opens the door<sync>"
    parsed = parse_event_string(text)
    assert parsed[0].timestamps == [9.6, 102.8] and parsed[1].scores == [3.0, 1.2]
    assert parsed[1].caption == "a person opens the door"
    assert events_to_string(events) == text


@pytest.mark.parametrize(
    "text, match",
    [
        ("0009.6<sep>0015.2<sync><sync>", "fields"),
        ("9.6<sync><sync>x<sync>", "timestamp"),
        ("0009.6<sync>abc<sync>x<sync>", "score"),
        ("0009.6<sync><sync>x<sync>tail", "does not end"),
        ("0009.6<sync><sync>a<sep>b<sync>", "caption"),
    ],
)
def test_malformed_event_strings_raise_and_score_zero_safely(text, match):
    with pytest.raises(TimeExpertFormatError, match=match):
        parse_event_string(text)
    assert safe_parse_events(text) == []


def test_timestamps_beyond_the_video_are_an_error():
    with pytest.raises(TimeExpertFormatError, match="beyond the end of the video"):
        format_timestamp(31.0, duration=30.0)
    with pytest.raises(TimeExpertFormatError, match="events\\[0\\].timestamps"):
        events_to_string([TimeExpertEvent([5.0, 40.0])], duration=30.0)
    with pytest.raises(TimeExpertFormatError, match="4 integer digits"):
        format_timestamp(10000.0)
    with pytest.raises(TimeExpertFormatError, match=">= 0"):
        format_timestamp(-1.0)
    with pytest.raises(ValueError, match="beyond"):
        parse_event_string("0040.0<sync><sync><sync>", duration=30.0)


def test_task_formatters_and_their_errors():
    row = {"qid": "q1", "duration": 30.0, "query": "a person opens the door", "windows": [[12.0, 20.0], [1.0, 4.5]]}
    prompt, events = format_timeexpert_example(row, "moment_retrieval")
    assert "a person opens the door" in prompt and [e.timestamps for e in events] == [[1.0, 4.5], [12.0, 20.0]]
    with pytest.raises(ValueError, match="row: window \\[12.0, 40.0\\]|windows\\[0\\]"):
        format_timeexpert_example({**row, "windows": [[12.0, 40.0]]}, "moment_retrieval")
    with pytest.raises(ValueError, match="unknown TimeExpert task type 'grounding'"):
        format_timeexpert_example(row, "grounding")
    hd = {"duration": 10.0, "query": "q", "relevant_clip_ids": [3, 1], "saliency_scores": [[4, 4, 3], [1, 2, 3]]}
    _, (event,) = format_timeexpert_example(hd, "highlight_detection")
    assert event.timestamps == [2.0, 6.0] and event.scores == [2.0, pytest.approx(11 / 3)]
    dc = {"duration": 10.0, "segments": [[5, 9], [0, 2]], "captions": ["b", "a"]}
    _, events = format_timeexpert_example(dc, "dense_captioning")
    assert [e.caption for e in events] == ["a", "b"]
    _, (answer,) = format_timeexpert_example({"question": "what?", "answer": "a door"}, "general")
    assert answer.timestamps == [] and answer.caption == "a door"
    with pytest.raises(ValueError, match="missing field 'captions'"):
        format_timeexpert_example({"duration": 10.0, "segments": []}, "dense_captioning")


def test_answers_become_qvhighlights_predictions():
    from momentzoo.testing.timeexpert import tiny_timeexpert
    from momentzoo.training.timeexpert import evaluate_highlights, events_to_saliency, events_to_windows

    events = [
        TimeExpertEvent([1.0, 6.5], [0.5]),
        TimeExpertEvent([4.0, 2.0]),
        TimeExpertEvent([3.1, 5.9, 0.5], [2.0, 3.5, 1.0]),
    ]
    assert events_to_windows(events) == [{"segment": [1.0, 6.5], "score": 0.5}]
    assert events_to_saliency(events, duration=7.0) == [1.0, 2.0, 3.5, 0.0]
    model, tokenizer = tiny_timeexpert()
    from momentzoo.models.timeexpert import TimeExpertProcessor

    rows = [
        {
            "qid": "q0",
            "duration": 8.0,
            "query": "a person opens the door",
            "windows": [[2.0, 6.0]],
            "relevant_clip_ids": [1, 2],
            "saliency_scores": [[4, 4, 3], [2, 4, 4]],
            "features": [[0.0] * 16] * 12,
        }
    ]
    result = evaluate_highlights(
        model, TimeExpertProcessor.from_config(tokenizer, model.config), rows, num_frames=4, max_new_tokens=12
    )
    assert set(result) >= {"MR-mAP", "HL-mAP", "HL-HIT@1"} and all(0 <= v <= 1 for v in result.values())
