"""Synthetic raw videos for temporal action localization: short mp4 clips of a moving square.

Each action is the square's motion: `square_moves_right` and `square_moves_left` (and `square_grows` and
`square_shrinks`) show the same frames in opposite order, so a model has to use temporal order to tell
them apart, and colour and position are drawn at random per action so they carry no class information.
Between actions only a static textured background is shown. The clips are written with PyAV (libx264,
single-threaded so the same seed gives byte-identical files) and annotated in the TAL row format with a
`Video(decode=False)` column, to exercise the raw-video path (decoding, feature extraction) end to end.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

__all__ = [
    "SYNTHETIC_VIDEO_CLASSES",
    "SyntheticVideoAction",
    "render_synthetic_frame",
    "make_synthetic_video_dataset",
]

SYNTHETIC_VIDEO_CLASSES = ["square_moves_right", "square_moves_left", "square_grows", "square_shrinks"]


@dataclass
class SyntheticVideoAction:
    """One action in a synthetic video: frames `[start_frame, end_frame)` show `label` (an index into the classes)."""

    label: int
    start_frame: int
    end_frame: int
    color: tuple[int, int, int]
    row: float  # vertical centre of a moving square / centre of a growing one, as a fraction of the height
    column: float  # horizontal centre of a growing square, as a fraction of the width


def _square_geometry(action: SyntheticVideoAction, frame_index: int, size: int, classes: Sequence[str]):
    """(centre_y, centre_x, side) in pixels of the square in `frame_index`, which lies inside the action."""
    length = action.end_frame - action.start_frame
    progress = (frame_index - action.start_frame) / max(length - 1, 1)  # 0 at the first frame, 1 at the last
    name = classes[action.label]
    small, large = 0.1 * size, 0.45 * size
    if name in ("square_moves_right", "square_moves_left"):
        if name == "square_moves_left":
            progress = 1.0 - progress
        return action.row * size, (0.15 + 0.7 * progress) * size, 0.2 * size
    if name in ("square_grows", "square_shrinks"):
        if name == "square_shrinks":
            progress = 1.0 - progress
        return action.row * size, action.column * size, small + (large - small) * progress
    raise ValueError(f"unknown synthetic video class {name!r}; known: {SYNTHETIC_VIDEO_CLASSES}")


def render_synthetic_frame(
    background: np.ndarray, actions: Sequence[SyntheticVideoAction], frame_index: int, classes: Sequence[str] = None
) -> np.ndarray:
    """The (H, W, 3) uint8 frame `frame_index` of a video with this background and these actions."""
    classes = SYNTHETIC_VIDEO_CLASSES if classes is None else classes
    frame = background.copy()
    size = frame.shape[0]
    for action in actions:
        if action.start_frame <= frame_index < action.end_frame:
            cy, cx, side = _square_geometry(action, frame_index, size, classes)
            y0, y1 = int(round(cy - side / 2)), int(round(cy + side / 2))
            x0, x1 = int(round(cx - side / 2)), int(round(cx + side / 2))
            frame[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = action.color
    return frame


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    # A smooth, dark texture: coarse noise upsampled, so the codec keeps it and the square stands out.
    coarse = rng.integers(20, 70, size=(size // 8 + 1, size // 8 + 1, 3))
    return np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)[:size, :size].astype(np.uint8)


def _sample_actions(rng, num_frames: int, fps: float, next_label, min_len_s: float, max_len_s: float):
    """1 or 2 non-overlapping actions with at least half a second of background around each."""
    gap = int(round(0.5 * fps))
    actions: list[SyntheticVideoAction] = []
    wanted = int(rng.integers(1, 3))
    cursor = gap
    for index in range(wanted):
        length = int(rng.integers(round(min_len_s * fps), round(max_len_s * fps) + 1))
        remaining = wanted - index - 1
        latest = num_frames - gap - length - remaining * (gap + round(min_len_s * fps))
        if latest < cursor:
            break
        start = int(rng.integers(cursor, latest + 1))
        color = tuple(int(c) for c in rng.integers(150, 256, size=3))
        actions.append(
            SyntheticVideoAction(
                label=next_label(),
                start_frame=start,
                end_frame=start + length,
                color=color,
                row=float(rng.uniform(0.3, 0.7)),
                column=float(rng.uniform(0.35, 0.65)),
            )
        )
        cursor = start + length + gap
    return actions


def _write_mp4(path: Path, frames: Sequence[np.ndarray], fps: int, gop: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
            stream.pix_fmt = "yuv420p"
            # One thread and no scene-cut keyframes: identical bytes for identical frames, keyframes every `gop`.
            stream.options = {"crf": "18", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "threads": "1"}
            for array in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def make_synthetic_video_dataset(
    output_dir: str | os.PathLike,
    num_videos: int = 6,
    seed: int = 0,
    size: int = 64,
    fps: int = 12,
    min_duration: float = 8.0,
    max_duration: float = 12.0,
    min_action_duration: float = 2.0,
    max_action_duration: float = 4.0,
    classes: Sequence[str] | None = None,
    gop: int | None = None,
):
    """Write `num_videos` synthetic mp4 clips into `output_dir` and return their TAL annotations.

    Returns a `datasets.Dataset` with one row per video: `video_id`, `duration` (seconds), `fps`,
    `video` (`Video(decode=False)`, the absolute path of the mp4), `segments` (seconds, `[start, end]`
    with `end` the end of the action's last frame) and `labels` (`ClassLabel` over `classes`).
    The same arguments always give the same files and rows. `gop` (default: one keyframe per second)
    sets the keyframe interval, so time-range reads really seek.
    """
    from datasets import ClassLabel, Dataset, Features, Value, Video
    from datasets import List as ListFeature

    classes = list(SYNTHETIC_VIDEO_CLASSES if classes is None else classes)
    unknown = [name for name in classes if name not in SYNTHETIC_VIDEO_CLASSES]
    if unknown or not classes:
        raise ValueError(f"classes must be a non-empty subset of {SYNTHETIC_VIDEO_CLASSES}, got {classes}")
    if num_videos < 1:
        raise ValueError(f"num_videos must be at least 1, got {num_videos}")
    if size < 16 or size % 2:
        raise ValueError(f"size must be an even number of pixels >= 16 (yuv420p), got {size}")
    if not (isinstance(fps, int) and fps > 0):
        raise ValueError(f"fps must be a positive int, got {fps}")
    if not 0 < min_action_duration <= max_action_duration:
        raise ValueError(
            f"need 0 < min_action_duration <= max_action_duration, got {min_action_duration}, {max_action_duration}"
        )
    if not 2 * min_action_duration + 1.5 <= min_duration <= max_duration:
        raise ValueError(
            f"need 2 * min_action_duration + 1.5 <= min_duration <= max_duration (room for two actions and gaps), "
            f"got min_action_duration={min_action_duration}, min_duration={min_duration}, max_duration={max_duration}"
        )
    if max_action_duration + 1.0 > min_duration:
        raise ValueError(
            f"max_action_duration + 1.0 must fit in min_duration, got {max_action_duration} and {min_duration}"
        )
    gop = fps if gop is None else int(gop)

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    rows = {"video_id": [], "duration": [], "fps": [], "video": [], "segments": [], "labels": []}
    # Labels are dealt from shuffled rounds of all classes, so even a handful of videos covers every class.
    label_rng, dealt = np.random.default_rng([seed, num_videos]), []

    def next_label() -> int:
        if not dealt:
            dealt.extend(int(c) for c in label_rng.permutation(len(classes)))
        return dealt.pop()

    for index in range(num_videos):
        rng = np.random.default_rng([seed, index])
        num_frames = int(round(rng.uniform(min_duration, max_duration) * fps))
        background = _background(rng, size)
        actions = _sample_actions(rng, num_frames, fps, next_label, min_action_duration, max_action_duration)
        frames = [render_synthetic_frame(background, actions, i, classes) for i in range(num_frames)]
        video_id = f"synthetic_video_{index:03d}"
        path = output_dir / f"{video_id}.mp4"
        _write_mp4(path, frames, fps, gop)
        rows["video_id"].append(video_id)
        rows["duration"].append(num_frames / fps)
        rows["fps"].append(float(fps))
        rows["video"].append(str(path.resolve()))
        rows["segments"].append([[a.start_frame / fps, a.end_frame / fps] for a in actions])
        rows["labels"].append([a.label for a in actions])

    features = Features(
        {
            "video_id": Value("string"),
            "duration": Value("float64"),
            "fps": Value("float64"),
            "video": Video(decode=False),
            "segments": ListFeature(ListFeature(Value("float64"), length=2)),
            "labels": ListFeature(ClassLabel(names=classes)),
        }
    )
    return Dataset.from_dict(rows, features=features)
