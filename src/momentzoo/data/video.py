"""Read video frames with PyAV: by time range, resampled to a target fps, resized, from a path or bytes.

`datasets.Video` decodes with torchcodec, which does not load on CPU-only machines (see STACK.md), so rows
keep `Video(decode=False)` (`{"bytes", "path"}`) and frames are decoded here. Seeking follows FFmpeg's
model: a container seek lands on the keyframe at or before the target, and frames are decoded forward
from there, so a time-range read costs one GOP of extra decoding rather than the whole prefix.
"""

import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

__all__ = [
    "VideoInfo",
    "VideoFrames",
    "VideoSource",
    "resolve_video_path",
    "probe_video",
    "iter_video_frames",
    "read_video_frames",
    "MAX_VIDEO_FRAMES",
    "default_max_frames",
]

# The most frames one read produces unless told otherwise (about 4.6 hours at 30 fps); MOMENTZOO_MAX_VIDEO_FRAMES
# or `max_frames` change it. A header claiming more fails before anything is decoded or allocated.
MAX_VIDEO_FRAMES = 500_000
# How far a container's claimed duration may run past its last frame (a truncated last GOP, an audio track that
# outlasts the video): this many seconds, or 2% of the claim when that is more.
_DURATION_TOLERANCE_S = 1.0
_CHUNK_FRAMES = 256
# A path, raw bytes, or the `{"bytes", "path"}` dict that `datasets.Video(decode=False)` returns.
VideoSource = str | os.PathLike | bytes | bytearray | dict
Size = int | tuple[int, int] | None


@dataclass
class VideoInfo:
    """What a video's container says about its first video stream.

    Attributes:
        duration: length of the video stream in seconds (last frame's timestamp plus one frame).
        fps: average frame rate of the stream.
        num_frames: frame count stored in the container (0 when the container does not record it).
        width, height: frame size in pixels.
    """

    duration: float
    fps: float
    num_frames: int
    width: int
    height: int


@dataclass
class VideoFrames:
    """Frames read from a video.

    Attributes:
        frames: (T, H, W, 3) uint8 RGB, numpy or torch.
        timestamps: (T,) float64 seconds from the start of the video: the sampling times when a target fps is
            given (`start + k / fps`), otherwise the presentation time of each decoded frame.
        frame_timestamps: (T,) float64 presentation time of the decoded frame shown at each sampling time
            (equal to `timestamps` without a target fps; repeats when the target fps exceeds the video's).
        duration: length of the whole video in seconds.
        fps: the rate the frames were sampled at (the target fps, or the video's average frame rate).
    """

    frames: "np.ndarray"
    timestamps: np.ndarray
    frame_timestamps: np.ndarray
    duration: float
    fps: float


def resolve_video_path(root: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """Join a path taken from annotations onto a data root, refusing any path that leaves the root.

    The check is lexical (after normalising `..` and absolute paths), so an annotation cannot point
    outside the root; symbolic links placed inside the root by the user are followed as usual.
    """
    if relative is None or str(relative) == "":
        raise ValueError(f"empty video path under data root {root}")
    root_abs = os.path.normpath(os.path.abspath(os.fspath(root)))
    candidate = os.path.normpath(os.path.join(root_abs, os.fspath(relative)))
    if os.path.commonpath([root_abs, candidate]) != root_abs or candidate == root_abs:
        raise ValueError(f"video path {os.fspath(relative)!r} escapes the data root {root_abs}")
    return Path(candidate)


def _describe(source: VideoSource) -> str:
    if isinstance(source, dict):
        return str(source.get("path")) if source.get("path") else "<video bytes>"
    if isinstance(source, (bytes, bytearray)):
        return "<video bytes>"
    return os.fspath(source)


def _open(source: VideoSource, root=None):
    """Open `source` with PyAV; returns (container, name used in error messages)."""
    if isinstance(source, dict):
        if source.get("bytes") is not None:
            data, name = source["bytes"], _describe(source)
            return _open_bytes(data, name), name
        if source.get("path") is None:
            raise ValueError(f"video dict has neither 'bytes' nor 'path': keys {sorted(source)}")
        source = source["path"]
    if isinstance(source, (bytes, bytearray)):
        return _open_bytes(source, "<video bytes>"), "<video bytes>"
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(f"video must be a path, bytes or a {{'bytes', 'path'}} dict, got {type(source).__name__}")
    path = resolve_video_path(root, source) if root is not None else Path(source)
    name = os.fspath(path)
    if not path.is_file():
        raise ValueError(f"video file not found: {name}")
    if path.stat().st_size == 0:
        raise ValueError(f"video file is empty: {name}")
    try:
        # "file:" + an absolute path and a file-only protocol whitelist: a name such as "concat:a.mp4|b.mp4" or
        # "http://..." under the data root is a local file, never a URL FFmpeg would fetch or splice.
        return av.open("file:" + os.path.abspath(name), mode="r", options={"protocol_whitelist": "file"}), name
    except (av.FFmpegError, OSError) as error:
        raise ValueError(f"cannot open video {name}: {error}") from error


def _open_bytes(data, name):
    if len(data) == 0:
        raise ValueError(f"video is empty: {name}")
    try:
        return av.open(io.BytesIO(bytes(data)), mode="r")
    except (av.FFmpegError, OSError) as error:
        raise ValueError(f"cannot open video {name}: {error}") from error


def _video_stream(container, name):
    if not container.streams.video:
        raise ValueError(f"video {name} has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"  # frame-level threads: several times faster decoding of long H.264 videos
    return stream


def _stream_start(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _stream_fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def _stream_info(container, stream, name) -> VideoInfo:
    fps = _stream_fps(stream)
    if stream.duration is not None and stream.duration > 0:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None and container.duration > 0:
        duration = container.duration / av.time_base - _stream_start(stream)
    else:
        duration = 0.0
    if duration <= 0 or fps <= 0:
        # Containers without an index (raw streams, some webm): count by decoding, once.
        times = [frame.time for frame in _decode(container, stream, name)]
        if not times:
            raise ValueError(f"video {name} contains no decodable frames")
        if fps <= 0:
            fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 1.0
        duration = times[-1] - _stream_start(stream) + 1.0 / fps
        container.seek(0)
    ctx = stream.codec_context
    return VideoInfo(duration=duration, fps=fps, num_frames=int(stream.frames or 0), width=ctx.width, height=ctx.height)


def _decode(container, stream, name):
    try:
        yield from container.decode(stream)
    except av.FFmpegError as error:
        raise ValueError(f"cannot decode video {name}: {error}") from error


def probe_video(video: VideoSource, root=None) -> VideoInfo:
    """Duration, frame rate, frame count and size of a video, read from its container header."""
    container, name = _open(video, root)
    try:
        return _stream_info(container, _video_stream(container, name), name)
    finally:
        container.close()


def _output_size(size: Size, width: int, height: int) -> tuple[int, int]:
    """(height, width) for `size`: an int resizes the shorter side keeping the aspect ratio, a pair is exact."""
    if size is None:
        return height, width
    if isinstance(size, int):
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        if height <= width:
            return size, max(1, round(width * size / height))
        return max(1, round(height * size / width)), size
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f"size must be an int or a positive (height, width) pair, got {size}")
    return int(size[0]), int(size[1])


def _to_rgb(frame, out_hw) -> np.ndarray:
    # swscale resizes and converts in one pass; bilinear as image processors do.
    return frame.to_ndarray(format="rgb24", width=out_hw[1], height=out_hw[0], interpolation="BILINEAR")


def default_max_frames() -> int:
    """The most frames one read may produce: `MOMENTZOO_MAX_VIDEO_FRAMES`, else `MAX_VIDEO_FRAMES`."""
    value = os.environ.get("MOMENTZOO_MAX_VIDEO_FRAMES")
    if value is None:
        return MAX_VIDEO_FRAMES
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"MOMENTZOO_MAX_VIDEO_FRAMES must be a positive integer, got {value!r}")
    return int(value)


def iter_video_frames(
    video: VideoSource,
    start: float = 0.0,
    end: float | None = None,
    fps: float | None = None,
    size: Size = None,
    root=None,
    info: VideoInfo | None = None,
    max_frames: int | None = None,
) -> Iterator[tuple[np.ndarray, float, float]]:
    """Yield `(frame (H, W, 3) uint8, sample_time, frame_time)` for the frames of `[start, end)` seconds.

    With `fps`, frames are sampled by timestamp at `start + k / fps` (every time before `end` and before the
    video's end), each being the decoded frame on screen at that time; without it, every decoded frame whose
    timestamp lies in `[start, end)` is yielded. Frames are produced as they are decoded, so memory does not
    grow with the length of the video.

    A container's duration is a claim: sample times past the last decoded frame (plus one frame) are not filled
    with copies of it, and a video whose frames end well before its claimed end (more than 1 s or 2%) is an error. More than `max_frames` frames (default `default_max_frames()`) is an error before decoding.
    """
    max_frames = default_max_frames() if max_frames is None else int(max_frames)
    if max_frames <= 0:
        raise ValueError(f"max_frames must be positive, got {max_frames}")
    container, name = _open(video, root)
    try:
        stream = _video_stream(container, name)
        info = info if info is not None else _stream_info(container, stream, name)
        start = float(start)
        if not math.isfinite(start) or start < 0:
            raise ValueError(f"invalid start {start} for video {name}: need a finite start >= 0")
        if start >= info.duration:
            raise ValueError(f"start {start:.3f} s is at or after the end of video {name} ({info.duration:.3f} s)")
        end = info.duration if end is None else float(end)
        if math.isnan(end) or end <= start:
            raise ValueError(f"invalid time range [{start}, {end}) for video {name}: need start < end")
        if fps is not None and not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        out_hw = _output_size(size, info.width, info.height)
        offset = _stream_start(stream)
        stop = min(end, info.duration)
        if start > 0:
            container.seek(int((start + offset) / stream.time_base), stream=stream, backward=True, any_frame=False)

        if fps is None:
            count = 0
            for frame in _decode(container, stream, name):
                t = _frame_time(frame, offset, name)
                if t >= stop:
                    break
                if t >= start:
                    count += 1
                    if count > max_frames:
                        raise ValueError(
                            f"video {name}: more than max_frames={max_frames} frames in [{start:.3f}, "
                            f"{stop:.3f}) s (raise max_frames or MOMENTZOO_MAX_VIDEO_FRAMES)"
                        )
                    yield _to_rgb(frame, out_hw), t, t
            return

        num_samples = max(0, math.ceil((stop - start) * fps - 1e-9))
        if num_samples > max_frames:
            raise ValueError(
                f"video {name}: {num_samples} frames at {fps:g} fps in [{start:.3f}, {stop:.3f}) s "
                f"exceed max_frames={max_frames} (raise max_frames or MOMENTZOO_MAX_VIDEO_FRAMES)"
            )
        k = 0
        previous, previous_rgb, previous_time = None, None, None
        for frame in _decode(container, stream, name):
            t = _frame_time(frame, offset, name)
            # Every sample time before this frame's timestamp shows the previous frame.
            while k < num_samples and start + k / fps < t:
                if previous is None:  # the first frame starts after the sample time (e.g. a start offset)
                    previous, previous_time = frame, t
                if previous_rgb is None:
                    previous_rgb = _to_rgb(previous, out_hw)
                yield previous_rgb, start + k / fps, previous_time
                k += 1
            if k >= num_samples:
                break
            previous, previous_rgb, previous_time = frame, None, t
        if k < num_samples and previous is None:
            raise ValueError(f"video {name} has no decodable frames after {start:.3f} s")
        if k < num_samples:
            # The stream holds frames up to the last one's end; a claim beyond that is not filled with copies.
            frames_end = previous_time + 1.0 / (info.fps if info.fps > 0 else fps)
            if stop - frames_end > max(_DURATION_TOLERANCE_S, 0.02 * info.duration):
                raise ValueError(
                    f"video {name} claims {info.duration:.3f} s but its frames end at {frames_end:.3f} s "
                    "(a damaged or forged header); re-encode the file"
                )
            num_samples = min(num_samples, max(k, math.ceil((frames_end - start) * fps - 1e-9)))
        while k < num_samples:  # sample times after the last frame's timestamp show the last frame
            if previous_rgb is None:
                previous_rgb = _to_rgb(previous, out_hw)
            yield previous_rgb, start + k / fps, previous_time
            k += 1
    finally:
        container.close()


def _frame_time(frame, offset: float, name: str) -> float:
    if frame.pts is None:
        raise ValueError(f"video {name} has a frame without a presentation timestamp")
    return float(frame.pts * frame.time_base) - offset


def read_video_frames(
    video: VideoSource,
    start: float = 0.0,
    end: float | None = None,
    fps: float | None = None,
    size: Size = None,
    root=None,
    return_tensors: str = "np",
    max_frames: int | None = None,
) -> VideoFrames:
    """Read the frames of `[start, end)` seconds of a video (see `iter_video_frames`) into one array.

    Args:
        video: a path, bytes, or the `{"bytes", "path"}` dict of a `datasets.Video(decode=False)` column.
        start, end: time range in seconds (`end=None`: to the end of the video).
        fps: sample at this rate by timestamp (`None`: every frame of the video).
        size: an int resizes the shorter side to it keeping the aspect ratio; `(height, width)` is exact.
        root: when given, a relative `video` path is resolved under it and may not escape it.
        return_tensors: `"np"` or `"pt"`.
        max_frames: the most frames to read (default `default_max_frames()`); more is an error before decoding.
    """
    if return_tensors not in ("np", "pt"):
        raise ValueError(f"return_tensors must be 'np' or 'pt', got {return_tensors!r}")
    container, name = _open(video, root)
    try:
        info = _stream_info(container, _video_stream(container, name), name)
    finally:
        container.close()
    # Frames are stacked in chunks as they come: a list of per-frame arrays costs an object per frame and a full
    # extra copy at the end; the chunks are joined once.
    chunks, pending, times, frame_times = [], [], [], []
    for frame, t, frame_t in iter_video_frames(video, start, end, fps, size, root, info=info, max_frames=max_frames):
        pending.append(frame)
        times.append(t)
        frame_times.append(frame_t)
        if len(pending) == _CHUNK_FRAMES:
            chunks.append(np.stack(pending))
            pending = []
    if pending:
        chunks.append(np.stack(pending))
    if not chunks:
        raise ValueError(f"no frames in [{start}, {end}) of video {name}")
    array = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
    del chunks
    if return_tensors == "pt":
        import torch

        array = torch.from_numpy(array)
    return VideoFrames(
        frames=array,
        timestamps=np.asarray(times, dtype=np.float64),
        frame_timestamps=np.asarray(frame_times, dtype=np.float64),
        duration=info.duration,
        fps=float(fps) if fps is not None else info.fps,
    )
