"""Synthetic feature-level datasets for temporal action localization and grounding.

The embedded default for the quickstart, the examples and most tests: deterministic by seed, generated in
well under a second, and shaped exactly like the real builders' rows (see the TAL and grounding row
contracts), so everything downstream runs unchanged on them.

How a video is made (all sizes in feature steps):

* **Classes are programs of phases.** Each class is three phases in a fixed order; each phase has a
  prototype vector in the D-dimensional feature space. An action instance shows its phases one after the
  other (random proportions, so actions of the same class differ in tempo) as the prototype, scaled by a
  per-instance amplitude and perturbed per instance, added on top of the background.
* **Order-confusable pairs.** The first `num_confusable_pairs` pairs of classes use the same three phases in
  opposite order (`open door` / `close door`): frame by frame they look alike, and only temporal order tells
  them apart, as with FrisbeeCatch and throwing in THUMOS14.
* **Background** is Gaussian noise plus a slow drift along a few random directions, and, with probability
  `distractor_rate` per gap between actions, a lone *distractor* phase: one phase of some class shown on its
  own. A detector that keys on single frames fires on distractors; it has to recognise whole programs.
* **Actions vary in length** (log-uniform between `min_action_length` and `max_action_length`) so that all
  pyramid levels of a multi-scale detector get positives; they do not overlap.

Every class has a one-sentence description of its start and end (`"starts with ..., ends with ..."`) for
the language models (ActionVLM's candidate list, zero-shot methods). The descriptions, the class names and
the order-confusable pairs are stored as JSON in the `DatasetInfo.description` of every split, so they
travel with `save_to_disk`; `synthetic_tal_metadata(dataset)` reads them back.

Geometry: features sit on the I3D grid by default (30 fps, stride 4, 16-frame clips). An action covering
feature steps `s .. e-1` has the ground truth `[s - 0.5, e - 0.5]` in feature-grid units, converted to
seconds with `momentzoo.segments.feature_grid_to_seconds`; the duration covers all frames the features
saw, `((T - 1) * stride + num_frames) / fps`, so every segment lies inside `[0, duration]`.
"""

import json
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import datasets
import numpy as np

__all__ = [
    "SyntheticTALConfig",
    "SYNTHETIC_GROUNDING_TEMPLATES",
    "make_synthetic_tal_dataset",
    "make_synthetic_grounding_dataset",
    "synthetic_phase_prototypes",
    "synthetic_tal_metadata",
    "tal_features",
]

_METADATA_KEY = "momentzoo_synthetic_tal"


@dataclass(frozen=True)
class _ActionSpec:
    name: str
    verb: tuple[str, str, str, str]  # base, third person singular, present participle, past
    complement: tuple[str, str]  # with a definite / an indefinite object ("up the cup", "up a cup")
    phases: tuple[str, str, str]


def _reverse(spec: _ActionSpec, name, verb, complement) -> _ActionSpec:
    return _ActionSpec(name, verb, complement, tuple(reversed(spec.phases)))


_OPEN_DOOR = _ActionSpec(
    "open door",
    ("open", "opens", "opening", "opened"),
    ("the door", "a door"),
    ("a hand on the handle of a closed door", "a door swinging on its hinges", "a door standing wide open"),
)
_PICK_UP_CUP = _ActionSpec(
    "pick up cup",
    ("pick", "picks", "picking", "picked"),
    ("up the cup", "up a cup"),
    ("a cup resting on a table", "a hand gripping the cup", "a cup held up in the air"),
)
_STAND_UP = _ActionSpec(
    "stand up",
    ("stand", "stands", "standing", "stood"),
    ("up", "up"),
    ("a person seated on a chair", "a person leaning forward with bent knees", "a person standing upright"),
)
_TURN_ON_LIGHT = _ActionSpec(
    "turn on light",
    ("turn", "turns", "turning", "turned"),
    ("on the light", "on a light"),
    ("a dark room", "a finger pressing the light switch", "a brightly lit room"),
)
_OPEN_LAPTOP = _ActionSpec(
    "open laptop",
    ("open", "opens", "opening", "opened"),
    ("the laptop", "a laptop"),
    ("a laptop folded shut", "a screen tilting on its hinge", "a laptop open with a glowing screen"),
)

# Pairs whose members share their phases in opposite order; the first `num_confusable_pairs` are used as pairs.
_PAIRS: list[tuple[_ActionSpec, _ActionSpec]] = [
    (_OPEN_DOOR, _reverse(_OPEN_DOOR, "close door", ("close", "closes", "closing", "closed"), ("the door", "a door"))),
    (
        _PICK_UP_CUP,
        _reverse(_PICK_UP_CUP, "put down cup", ("put", "puts", "putting", "put"), ("down the cup", "down a cup")),
    ),
    (_STAND_UP, _reverse(_STAND_UP, "sit down", ("sit", "sits", "sitting", "sat"), ("down", "down"))),
    (
        _TURN_ON_LIGHT,
        _reverse(
            _TURN_ON_LIGHT, "turn off light", ("turn", "turns", "turning", "turned"), ("off the light", "off a light")
        ),
    ),
    (
        _OPEN_LAPTOP,
        _reverse(_OPEN_LAPTOP, "close laptop", ("close", "closes", "closing", "closed"), ("the laptop", "a laptop")),
    ),
]

_SINGLES: list[_ActionSpec] = [
    _ActionSpec(
        "throw ball",
        ("throw", "throws", "throwing", "threw"),
        ("the ball", "a ball"),
        ("a ball held behind the head", "an arm whipping forward", "a ball flying away"),
    ),
    _ActionSpec(
        "pour water",
        ("pour", "pours", "pouring", "poured"),
        ("the water", "some water"),
        ("a jug tilted over a glass", "water streaming into the glass", "a full glass of water"),
    ),
    _ActionSpec(
        "wave hand",
        ("wave", "waves", "waving", "waved"),
        ("a hand", "their hand"),
        ("a hand raised beside the face", "a hand swaying left and right", "a hand lowered to the side"),
    ),
    _ActionSpec(
        "wash dishes",
        ("wash", "washes", "washing", "washed"),
        ("the dishes", "some dishes"),
        ("a plate under the running tap", "a sponge scrubbing the plate", "a clean plate on the rack"),
    ),
    _ActionSpec(
        "eat sandwich",
        ("eat", "eats", "eating", "ate"),
        ("the sandwich", "a sandwich"),
        ("a sandwich lifted to the mouth", "a bite taken from the sandwich", "a person chewing"),
    ),
    _ActionSpec(
        "read book",
        ("read", "reads", "reading", "read"),
        ("the book", "a book"),
        ("a closed book on the lap", "a page being turned", "eyes scanning an open page"),
    ),
    _ActionSpec(
        "drink coffee",
        ("drink", "drinks", "drinking", "drank"),
        ("the coffee", "some coffee"),
        ("a mug raised to the lips", "a head tilted back to sip", "a mug set back on the table"),
    ),
    _ActionSpec(
        "sweep floor",
        ("sweep", "sweeps", "sweeping", "swept"),
        ("the floor", "the floor"),
        ("a broom leaning against the wall", "bristles brushing across the floor", "a small pile of dust"),
    ),
    _ActionSpec(
        "tie shoelaces",
        ("tie", "ties", "tying", "tied"),
        ("the shoelaces", "their shoelaces"),
        ("a foot on a step with loose laces", "fingers looping the laces", "a tight bow on the shoe"),
    ),
    _ActionSpec(
        "brush teeth",
        ("brush", "brushes", "brushing", "brushed"),
        ("their teeth", "their teeth"),
        ("toothpaste squeezed onto a brush", "a brush scrubbing the teeth", "a mouth rinsed at the sink"),
    ),
]

# Global phase vocabulary: every phase name once, in a fixed order, so prototypes do not depend on K.
_PHASE_VOCABULARY: list[str] = []
for _spec in [s for pair in _PAIRS for s in pair] + _SINGLES:
    for _phase in _spec.phases:
        if _phase not in _PHASE_VOCABULARY:
            _PHASE_VOCABULARY.append(_phase)

MAX_SYNTHETIC_CLASSES = 2 * len(_PAIRS) + len(_SINGLES)

# Query templates: {third}/{ing}/{past} are verb forms, {definite}/{indefinite} the complement.
SYNTHETIC_GROUNDING_TEMPLATES: tuple[str, ...] = (
    "person {third} {definite}",
    "a person is {ing} {indefinite}",
    "the person {past} {definite}",
    "someone {third} {indefinite}",
    "a person {third} {definite} quickly",
)


def _select_specs(num_classes: int, num_confusable_pairs: int) -> list[_ActionSpec]:
    """The used pairs (both members), then the single classes, then members of unused pairs (not confusable
    with anything, as their partner is absent)."""
    specs = [s for pair in _PAIRS[:num_confusable_pairs] for s in pair] + list(_SINGLES)
    specs += [s for pair in _PAIRS[num_confusable_pairs:] for s in pair]
    return specs[:num_classes]


@dataclass
class SyntheticTALConfig:
    """Everything that defines a synthetic TAL dataset; the same config and seed give the same data.

    Lengths are in feature steps. `signal_strength` is the per-dimension RMS of a phase prototype and
    `noise` the per-dimension standard deviation of the background noise, so the per-frame signal-to-noise
    ratio along a prototype is about `signal_strength * sqrt(feature_dim) / noise`.
    """

    num_classes: int = 8
    num_confusable_pairs: int = 2
    feature_dim: int = 64
    num_videos: dict[str, int] = field(default_factory=lambda: {"train": 160, "validation": 40, "test": 40})
    min_length: int = 128
    max_length: int = 256
    min_action_length: int = 6
    max_action_length: int = 64
    max_actions_per_video: int = 4
    min_gap: int = 2
    signal_strength: float = 0.6
    noise: float = 1.0
    prototype_jitter: float = 0.25
    amplitude_range: tuple[float, float] = (0.75, 1.25)
    background_drift: float = 0.5
    distractor_rate: float = 0.5
    fps: float = 30.0
    feature_stride: int = 4
    num_frames: int = 16
    seed: int = 0

    def __post_init__(self):
        def positive_int(name, value, minimum=1):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"SyntheticTALConfig.{name} must be an integer >= {minimum}, got {value!r}")

        positive_int("num_classes", self.num_classes, 2)
        if self.num_classes > MAX_SYNTHETIC_CLASSES:
            raise ValueError(
                f"SyntheticTALConfig.num_classes must be <= {MAX_SYNTHETIC_CLASSES} (the size of the "
                f"synthetic action vocabulary), got {self.num_classes}"
            )
        positive_int("num_confusable_pairs", self.num_confusable_pairs, 0)
        if self.num_confusable_pairs > len(_PAIRS) or 2 * self.num_confusable_pairs > self.num_classes:
            raise ValueError(
                f"SyntheticTALConfig.num_confusable_pairs must be <= min({len(_PAIRS)}, num_classes // 2 "
                f"= {self.num_classes // 2}), got {self.num_confusable_pairs}"
            )
        positive_int("feature_dim", self.feature_dim)
        if not isinstance(self.num_videos, dict) or not self.num_videos:
            raise ValueError(
                f"SyntheticTALConfig.num_videos must be a non-empty dict split -> count, got {self.num_videos!r}"
            )
        for split, count in self.num_videos.items():
            if not isinstance(split, str) or not split:
                raise ValueError(f"SyntheticTALConfig.num_videos keys must be split names, got {split!r}")
            positive_int(f"num_videos[{split!r}]", count, 0)
        positive_int("min_action_length", self.min_action_length, 3)  # one step per phase at least
        positive_int("max_action_length", self.max_action_length, self.min_action_length)
        positive_int("min_length", self.min_length, self.max_action_length + 2)
        positive_int("max_length", self.max_length, self.min_length)
        positive_int("max_actions_per_video", self.max_actions_per_video)
        positive_int("min_gap", self.min_gap, 0)
        positive_int("feature_stride", self.feature_stride)
        positive_int("num_frames", self.num_frames)
        positive_int("seed", self.seed, 0)
        for name in ("signal_strength", "noise", "prototype_jitter", "background_drift"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"SyntheticTALConfig.{name} must be a finite number >= 0, got {value!r}")
        if self.signal_strength <= 0:
            raise ValueError(f"SyntheticTALConfig.signal_strength must be > 0, got {self.signal_strength}")
        if not (isinstance(self.fps, (int, float)) and np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"SyntheticTALConfig.fps must be a finite number > 0, got {self.fps!r}")
        if not (isinstance(self.distractor_rate, (int, float)) and 0 <= self.distractor_rate <= 1):
            raise ValueError(f"SyntheticTALConfig.distractor_rate must be in [0, 1], got {self.distractor_rate!r}")
        low, high = self.amplitude_range
        if not (0 < low <= high):
            raise ValueError(
                f"SyntheticTALConfig.amplitude_range must be (low, high) with 0 < low <= high, "
                f"got {self.amplitude_range!r}"
            )
        self.amplitude_range = (float(low), float(high))

    # --- the class vocabulary this config uses ---------------------------------------------------------
    @property
    def _specs(self) -> list[_ActionSpec]:
        return _select_specs(self.num_classes, self.num_confusable_pairs)

    @property
    def class_names(self) -> list[str]:
        return [s.name for s in self._specs]

    @property
    def class_descriptions(self) -> list[str]:
        """One sentence per class, `"starts with <first phase>, ends with <last phase>."`."""
        return [f"starts with {s.phases[0]}, ends with {s.phases[-1]}." for s in self._specs]

    @property
    def confusable_pairs(self) -> list[tuple[int, int]]:
        """Class-id pairs whose phases are the same in opposite order."""
        return [(2 * i, 2 * i + 1) for i in range(self.num_confusable_pairs)]

    @property
    def class_phases(self) -> list[tuple[int, ...]]:
        """Per class, the ids of its phases (indices into `phase_names`) in temporal order."""
        return [tuple(_PHASE_VOCABULARY.index(p) for p in s.phases) for s in self._specs]

    @property
    def phase_names(self) -> list[str]:
        return list(_PHASE_VOCABULARY)

    def duration(self, num_steps: int) -> float:
        """Seconds covered by `num_steps` features: all frames the clips saw."""
        return ((num_steps - 1) * self.feature_stride + self.num_frames) / self.fps

    def steps_to_seconds(self, steps):
        """Feature-grid units -> seconds (same formula as `momentzoo.segments.feature_grid_to_seconds`)."""
        return (np.asarray(steps, dtype=np.float64) * self.feature_stride + 0.5 * self.num_frames) / self.fps


def synthetic_phase_prototypes(config: SyntheticTALConfig) -> np.ndarray:
    """(num_phases, D) prototypes, each of per-dimension RMS `signal_strength`; phase `i` depends only on
    (seed, i, D), so adding classes does not change the others."""
    out = np.empty((len(_PHASE_VOCABULARY), config.feature_dim), dtype=np.float64)
    for i in range(len(_PHASE_VOCABULARY)):
        v = np.random.default_rng([config.seed, 0, i]).standard_normal(config.feature_dim)
        out[i] = v / np.sqrt(np.mean(v**2)) * config.signal_strength
    return out


def _split_seed(split: str) -> int:
    return zlib.crc32(split.encode("utf-8"))


def _place_actions(rng, config: SyntheticTALConfig, length: int):
    """Non-overlapping [start, end) step ranges (sorted) with at least `min_gap` background steps between
    actions; actions that do not fit are not placed (the count is random anyway)."""
    count = int(rng.integers(1, config.max_actions_per_video + 1))
    log_lo, log_hi = np.log(config.min_action_length), np.log(config.max_action_length + 1)
    lengths = np.floor(np.exp(rng.uniform(log_lo, log_hi, size=count))).astype(int)
    lengths = np.clip(lengths, config.min_action_length, config.max_action_length)
    # keep the first actions that fit together with their mandatory gaps
    fits = np.cumsum(lengths) + config.min_gap * np.arange(count) <= length
    lengths = lengths[fits] if fits.any() else lengths[:1]
    count = len(lengths)
    free = length - int(lengths.sum()) - config.min_gap * (count - 1)
    # distribute the free steps over the count + 1 gaps uniformly at random
    cuts = np.sort(rng.integers(0, free + 1, size=count))
    gaps = np.diff(np.concatenate([[0], cuts]))
    starts = np.cumsum(gaps) + np.concatenate([[0], np.cumsum(lengths[:-1] + config.min_gap)])
    return [(int(s), int(s + l)) for s, l in zip(starts, lengths)]


def _phase_bounds(rng, length: int, num_phases: int) -> np.ndarray:
    """Step offsets 0 = b0 < b1 < ... < bn = length splitting an action into phases of random proportions."""
    proportions = rng.dirichlet(np.full(num_phases, 4.0))
    bounds = np.round(np.cumsum(proportions) * length).astype(int)
    bounds = np.concatenate([[0], bounds])
    bounds[-1] = length
    for i in range(1, num_phases + 1):  # every phase at least one step
        bounds[i] = max(bounds[i], bounds[i - 1] + 1)
    for i in range(num_phases - 1, 0, -1):
        bounds[i] = min(bounds[i], bounds[i + 1] - 1)
    return bounds


def _generate_video(config: SyntheticTALConfig, prototypes: np.ndarray, split: str, index: int) -> dict:
    rng = np.random.default_rng([config.seed, 1, _split_seed(split), index])
    D = config.feature_dim
    length = int(rng.integers(config.min_length, config.max_length + 1))
    feats = rng.standard_normal((length, D)) * config.noise
    if config.background_drift > 0:  # slow drift along two random directions
        t = np.arange(length) / length
        for _ in range(2):
            direction = rng.standard_normal(D)
            direction /= np.sqrt(np.mean(direction**2))
            freq, phase = rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi)
            feats += np.sin(2 * np.pi * freq * t + phase)[:, None] * direction * config.background_drift

    class_phases = config.class_phases
    actions = _place_actions(rng, config, length)
    labels = rng.integers(0, config.num_classes, size=len(actions))
    low, high = config.amplitude_range
    for (start, end), label in zip(actions, labels):
        phases = class_phases[label]
        bounds = _phase_bounds(rng, end - start, len(phases))
        amplitude = rng.uniform(low, high)
        for p, b0, b1 in zip(phases, bounds[:-1], bounds[1:]):
            style = rng.standard_normal(D) * config.prototype_jitter * config.signal_strength
            feats[start + b0 : start + b1] += amplitude * (prototypes[p] + style)

    # a lone phase in some gaps: looks like part of an action, is background
    used_phases = sorted({p for phases in class_phases for p in phases})
    edges = [0] + [x for a in actions for x in a] + [length]
    for gap_start, gap_end in zip(edges[0::2], edges[1::2]):
        room = gap_end - gap_start - 2  # keep one background step on each side
        if room >= 2 and rng.random() < config.distractor_rate:
            span = int(rng.integers(2, max(3, min(room, config.max_action_length // 3) + 1)))
            span = min(span, room)
            offset = gap_start + 1 + int(rng.integers(0, room - span + 1))
            p = used_phases[int(rng.integers(len(used_phases)))]
            feats[offset : offset + span] += rng.uniform(low, high) * prototypes[p]

    grid = np.asarray(actions, dtype=np.float64).reshape(-1, 2) - 0.5
    return {
        "video_id": f"synthetic_{split}_{index:05d}",
        "duration": config.duration(length),
        "fps": config.fps,
        "feature_stride": config.feature_stride,
        "num_frames": config.num_frames,
        "features": feats.astype(np.float32),
        "segments": config.steps_to_seconds(grid).astype(np.float32).tolist(),
        "labels": [int(x) for x in labels],
    }


def _metadata_json(config: SyntheticTALConfig) -> str:
    meta = {
        "config": asdict(config),
        "class_names": config.class_names,
        "class_descriptions": config.class_descriptions,
        "confusable_pairs": [list(p) for p in config.confusable_pairs],
        "class_phases": [[config.phase_names[p] for p in phases] for phases in config.class_phases],
    }
    return json.dumps({_METADATA_KEY: meta})


def tal_features(class_names: Sequence[str], feature_dim: int) -> datasets.Features:
    """The `Features` of TAL rows with (T, feature_dim) float32 features (the shared TAL row contract)."""
    return datasets.Features(
        {
            "video_id": datasets.Value("string"),
            "duration": datasets.Value("float64"),
            "fps": datasets.Value("float64"),
            "feature_stride": datasets.Value("int32"),
            "num_frames": datasets.Value("int32"),
            "features": datasets.Array2D(shape=(None, feature_dim), dtype="float32"),
            "segments": datasets.List(datasets.List(datasets.Value("float64"), length=2)),
            "labels": datasets.List(datasets.ClassLabel(names=list(class_names))),
        }
    )


def _resolve(config: SyntheticTALConfig | None, overrides: dict) -> SyntheticTALConfig:
    if config is None:
        return SyntheticTALConfig(**overrides)
    if overrides:
        return SyntheticTALConfig(**{**asdict(config), **overrides})
    return config


def make_synthetic_tal_dataset(config: SyntheticTALConfig | None = None, **overrides) -> datasets.DatasetDict:
    """Synthetic TAL rows (one per video) for every split in `config.num_videos`.

    `overrides` replace config fields (`make_synthetic_tal_dataset(num_classes=4, seed=1)`). Class names,
    descriptions and order-confusable pairs: `config.class_names`, `config.class_descriptions`,
    `config.confusable_pairs`, or `synthetic_tal_metadata(dataset)` on the returned (or reloaded) data.
    """
    config = _resolve(config, overrides)
    prototypes = synthetic_phase_prototypes(config)
    features = tal_features(config.class_names, config.feature_dim)
    info = datasets.DatasetInfo(
        description=_metadata_json(config), features=features, dataset_name="momentzoo_synthetic_tal"
    )
    splits = {}
    for split, count in config.num_videos.items():
        rows = [_generate_video(config, prototypes, split, i) for i in range(count)]
        columns = {name: [row[name] for row in rows] for name in features}
        splits[split] = datasets.Dataset.from_dict(
            columns, features=features, info=info.copy(), split=datasets.NamedSplit(split)
        )
    return datasets.DatasetDict(splits)


def synthetic_tal_metadata(dataset) -> dict:
    """`{"config", "class_names", "class_descriptions", "confusable_pairs", "class_phases"}` of a synthetic
    dataset (a `Dataset` or `DatasetDict`, also after `save_to_disk` / `load_from_disk`)."""
    if isinstance(dataset, datasets.DatasetDict):
        if not dataset:
            raise ValueError("synthetic_tal_metadata: the DatasetDict has no splits")
        dataset = next(iter(dataset.values()))
    description = getattr(getattr(dataset, "info", None), "description", None) or ""
    try:
        meta = json.loads(description)[_METADATA_KEY]
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            "synthetic_tal_metadata: the dataset's info.description does not hold momentzoo synthetic "
            "metadata (was it made by make_synthetic_tal_dataset?)"
        ) from None
    meta["confusable_pairs"] = [tuple(p) for p in meta["confusable_pairs"]]
    return meta


def _grounding_features(config: SyntheticTALConfig, include_features: bool) -> datasets.Features:
    spec = {
        "qid": datasets.Value("string"),
        "video_id": datasets.Value("string"),
        "duration": datasets.Value("float64"),
        "query": datasets.Value("string"),
        "windows": datasets.List(datasets.List(datasets.Value("float64"), length=2)),
        "verb": datasets.Value("string"),
        "action": datasets.Value("string"),
    }
    if include_features:
        spec.update(
            {
                "fps": datasets.Value("float64"),
                "feature_stride": datasets.Value("int32"),
                "num_frames": datasets.Value("int32"),
                "features": datasets.Array2D(shape=(None, config.feature_dim), dtype="float32"),
            }
        )
    return datasets.Features(spec)


def make_synthetic_grounding_dataset(
    config: SyntheticTALConfig | None = None,
    include_features: bool = True,
    templates: Sequence[str] = SYNTHETIC_GROUNDING_TEMPLATES,
    **overrides,
) -> datasets.DatasetDict:
    """Grounding rows over the same videos as `make_synthetic_tal_dataset(config)`: one query per
    (video, class present), whose `windows` are all that class's instances in the video (seconds).

    Queries come from `templates` (`"person {third} {definite}"`, `"a person is {ing} {indefinite}"`, ...)
    filled with the class's verb forms, so spaCy lemmatizes the verb back to the `verb` column (its base
    form); `action` is the class name. `include_features=False` leaves out the features and geometry.
    """
    config = _resolve(config, overrides)
    if not templates:
        raise ValueError("make_synthetic_grounding_dataset: templates must not be empty")
    specs = config._specs
    prototypes = synthetic_phase_prototypes(config)
    features = _grounding_features(config, include_features)
    info = datasets.DatasetInfo(
        description=_metadata_json(config), features=features, dataset_name="momentzoo_synthetic_grounding"
    )
    splits = {}
    for split, count in config.num_videos.items():
        columns = {name: [] for name in features}
        for i in range(count):
            video = _generate_video(config, prototypes, split, i)
            rng = np.random.default_rng([config.seed, 2, _split_seed(split), i])
            segments = np.asarray(video["segments"], dtype=np.float32).reshape(-1, 2)
            labels = np.asarray(video["labels"])
            for label in sorted(set(labels.tolist())):
                spec = specs[label]
                base, third, ing, past = spec.verb
                template = templates[int(rng.integers(len(templates)))]
                query = template.format(
                    base=base,
                    third=third,
                    ing=ing,
                    past=past,
                    definite=spec.complement[0],
                    indefinite=spec.complement[1],
                )
                row = {
                    "qid": f"{video['video_id']}_{spec.name.replace(' ', '_')}",
                    "video_id": video["video_id"],
                    "duration": video["duration"],
                    "query": " ".join(query.split()),
                    "windows": segments[labels == label].tolist(),
                    "verb": base,
                    "action": spec.name,
                }
                if include_features:
                    row.update({k: video[k] for k in ("fps", "feature_stride", "num_frames", "features")})
                for name in features:
                    columns[name].append(row[name])
        splits[split] = datasets.Dataset.from_dict(
            columns, features=features, info=info.copy(), split=datasets.NamedSplit(split)
        )
    return datasets.DatasetDict(splits)
