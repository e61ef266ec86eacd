"""Hostile inputs that attack the machine or leak data: forged numpy pickles (weak-THUMOS layout), videos that lie
about their length, file names that FFmpeg would read as URLs. (Pushing: test_hostile_push.py.)"""

import os

import numpy as np
import pytest

from momentzoo.data.safe_numpy import load_npy_restricted


def _multiarray():
    return getattr(np, "_core", None) or np.core


class _Reduce:
    """Pickles as whatever `__reduce__` says: how an attacker writes a forged .npy object array."""

    def __init__(self, *reduce):
        self.reduce = reduce

    def __reduce__(self):
        return self.reduce


def _save_object_array(path, *elements):
    array = np.empty(len(elements), dtype=object)
    for i, element in enumerate(elements):
        array[i] = element
    np.save(path, array, allow_pickle=True)
    return path


# --- weak-THUMOS restricted unpickler --------------------------------------------------------------------------
def test_ndarray_called_directly_would_hand_back_uninitialised_memory(tmp_path):
    path = _save_object_array(tmp_path / "uninit.npy", _Reduce(np.ndarray, ((1000,), np.dtype("f8"))))
    assert path.stat().st_size < 400  # a few hundred bytes
    with pytest.raises(ValueError, match="uninit.npy: refusing to call numpy.ndarray directly"):
        load_npy_restricted(path)


def test_reconstruct_without_state_is_refused(tmp_path):
    reconstruct = _multiarray().multiarray._reconstruct
    path = _save_object_array(tmp_path / "nodata.npy", _Reduce(reconstruct, (np.ndarray, (10**9,), b"f")))
    with pytest.raises(ValueError, match="nodata.npy: an array in the file has no data"):
        load_npy_restricted(path)


def test_array_whose_data_is_not_in_the_stream_is_refused(tmp_path):
    reconstruct = _multiarray().multiarray._reconstruct
    state = (1, (10**9,), np.dtype("f8"), False, b"\0" * 8)  # 8 GB promised, 8 bytes present
    path = _save_object_array(tmp_path / "big.npy", _Reduce(reconstruct, (np.ndarray, (0,), b"b"), state))
    with pytest.raises(ValueError, match=r"big.npy: array of shape \(1000000000,\) and dtype float64 without its data"):
        load_npy_restricted(path)


def test_object_array_longer_than_the_file_is_refused(tmp_path):
    reconstruct = _multiarray().multiarray._reconstruct
    state = (1, (10**8,), np.dtype("O"), False, [1.0])
    path = _save_object_array(tmp_path / "objs.npy", _Reduce(reconstruct, (np.ndarray, (0,), b"b"), state))
    with pytest.raises(ValueError, match=r"objs.npy: object array of shape \(100000000,\) without its 100000000 elem"):
        load_npy_restricted(path)


def test_forged_dtype_state_is_refused(tmp_path):
    forged = _Reduce(np.dtype, ("V8", False, True), (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 0))
    path = _save_object_array(tmp_path / "dtype.npy", forged)
    with pytest.raises(ValueError, match="dtype.npy: refusing dtype"):
        load_npy_restricted(path)
    path = _save_object_array(
        tmp_path / "fields.npy",
        _Reduce(np.dtype, ("f8", False, True), (3, "<", None, ("a",), {"a": (np.dtype("f8"), 0)}, 8, 1, 0)),
    )
    with pytest.raises(ValueError, match="fields.npy: refusing dtype state"):
        load_npy_restricted(path)


def test_numeric_npy_whose_header_promises_more_than_the_file_holds(tmp_path):
    path = tmp_path / "short.npy"
    np.save(path, np.zeros(4))
    data = path.read_bytes().replace(b"(4,)", b"(10000000000,)".ljust(4))
    header_end = data.index(b"\n") + 1
    fixed = np.lib.format.header_data_from_array_1_0(np.zeros(4))
    fixed["shape"] = (10**10,)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, fixed)
        f.write(data[header_end:])
    with pytest.raises(ValueError, match="short.npy: header promises 80000000000 bytes of float64 data"):
        load_npy_restricted(path)


def test_honest_object_arrays_still_load(tmp_path):
    path = _save_object_array(
        tmp_path / "ok.npy",
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.float64(2.5),
        [np.array(["a", "bc"])],
        {"k": np.ones(2)},
        [[1.0, 2.0]],
    )
    loaded = load_npy_restricted(path)
    assert loaded[0].dtype == np.float32 and loaded[0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert loaded[1] == 2.5 and loaded[2][0].tolist() == ["a", "bc"] and loaded[3]["k"].tolist() == [1.0, 1.0]
    assert loaded[4] == [[1.0, 2.0]]
    with pytest.raises(ValueError, match=r"refusing to unpickle (posix|nt)\.system"):
        load_npy_restricted(_save_object_array(tmp_path / "evil.npy", _Reduce(os.system, ("true",))))


# --- videos that lie about their length, names FFmpeg would read as URLs ---------------------------------------
def _write_mkv(path, num_frames=5, fps=10, claim_seconds=None):
    """A tiny Matroska video; `claim_seconds` overwrites the Duration element of its header (a forged claim)."""
    import struct

    import av

    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 40 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    if claim_seconds is not None:
        data = bytearray(path.read_bytes())
        at = data.find(b"\x44\x89\x88")  # Segment Info > Duration, an 8-byte float in milliseconds
        data[at + 3 : at + 11] = struct.pack(">d", claim_seconds * 1000.0)
        path.write_bytes(bytes(data))
    return path


def test_a_video_claiming_a_million_seconds_fails_fast_without_allocating(tmp_path):
    import resource
    import time

    from momentzoo.data.video import probe_video, read_video_frames

    liar = _write_mkv(tmp_path / "liar.mkv", claim_seconds=1_000_000)
    assert liar.stat().st_size < 1000 and probe_video(liar).duration == pytest.approx(1_000_000)
    before, started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    with pytest.raises(ValueError, match=r"liar.mkv claims 1000000.000 s but its frames end at 0.500 s"):
        read_video_frames(liar, fps=0.1)
    with pytest.raises(ValueError, match=r"liar.mkv: 30000000 frames at 30 fps .* exceed max_frames=500000"):
        read_video_frames(liar, fps=30.0)
    assert time.perf_counter() - started < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing near 22.9 GiB


def test_max_frames_is_configurable_and_honest_videos_read_whole(tmp_path, monkeypatch):
    from momentzoo.data.video import read_video_frames

    honest = _write_mkv(tmp_path / "honest.mkv", num_frames=5)
    assert read_video_frames(honest, fps=10.0).frames.shape == (5, 16, 16, 3)
    with pytest.raises(ValueError, match="exceed max_frames=3"):
        read_video_frames(honest, fps=10.0, max_frames=3)
    with pytest.raises(ValueError, match="more than max_frames=3 frames"):
        read_video_frames(honest, max_frames=3)
    monkeypatch.setenv("MOMENTZOO_MAX_VIDEO_FRAMES", "4")
    with pytest.raises(ValueError, match="exceed max_frames=4"):
        read_video_frames(honest, fps=10.0)
    monkeypatch.setenv("MOMENTZOO_MAX_VIDEO_FRAMES", "lots")
    with pytest.raises(ValueError, match="MOMENTZOO_MAX_VIDEO_FRAMES must be a positive integer"):
        read_video_frames(honest, fps=10.0)


def test_extract_features_reports_the_lying_video_and_goes_on(tmp_path):
    from momentzoo.data.feature_extraction import VideoFeatureExtractor, extract_features_to_folder
    from momentzoo.testing import tiny_clip

    videos = tmp_path / "videos"
    videos.mkdir()
    _write_mkv(videos / "liar.mkv", claim_seconds=10_000)  # 100,000 frames at 10 fps: under max_frames
    _write_mkv(videos / "honest.mkv")
    model, _ = tiny_clip(image_size=16)
    model.save_pretrained(tmp_path / "clip")
    extractor = VideoFeatureExtractor.from_pretrained(
        str(tmp_path / "clip"), pooling="projection", fps=10.0, image_mean=[0.5] * 3, image_std=[0.5] * 3
    )
    report = extract_features_to_folder(extractor, videos, tmp_path / "out", progress=False)
    assert report.processed == ["honest"] and list(report.failed) == [str(videos / "liar.mkv")]
    assert "claims 10000.000 s but its frames end at 0.500 s" in report.failed[str(videos / "liar.mkv")]


@pytest.mark.parametrize("name", ["concat:a.mkv|b.mkv", "http:evil.mkv", "subfile,,start,0,end,0,,:a.mkv"])
def test_names_that_look_like_ffmpeg_urls_are_local_files(tmp_path, name):
    from momentzoo.data.video import probe_video, read_video_frames

    root = tmp_path / "root"
    root.mkdir()
    _write_mkv(root / "a.mkv", num_frames=3)
    _write_mkv(root / "b.mkv", num_frames=3)
    (root / name).write_bytes((root / "a.mkv").read_bytes())  # the file itself: 3 frames, not a concatenation
    assert read_video_frames(name, root=root).frames.shape[0] == 3
    assert probe_video(name, root=root).duration == pytest.approx(0.3)
    import os

    cwd = os.getcwd()
    os.chdir(root)
    try:  # a relative name without a root is opened as the local file too
        assert read_video_frames(name).frames.shape[0] == 3
        with pytest.raises(ValueError, match="video file not found: concat:b.mkv"):
            read_video_frames("concat:b.mkv")
    finally:
        os.chdir(cwd)
