"""Video reading and feature-extraction throughput on CPU.

Measures, on the real Charades video (`$MOMENTZOO_REAL_DATA/videos/charades_OHOFG.mp4`, 640x360, 35 s) when
present and on synthetic 64x64 clips otherwise:
  1. full decode at the native rate, resized to a 224 shorter side (frames/s);
  2. a 5-second time-range read at 8 fps near the end of the video, with the keyframe seek, against the
     same read done by decoding from the start (ms per read);
  3. the frame pipeline of feature extraction alone (decode, resize, crop, 16-frame clips every 4 frames at
     30 fps), then `extract_features_to_folder` with a tiny VideoMAE (112x112) on top: clips/s, video-s/s.
  4. `TemporalVideoCollator` training windows for a VideoMAE-B-shaped encoder (8 fps, 224x224 crops, 16-frame
     clips, 2-frame tokens, windows of 128 frames = 16 s: 77 MB of float32 pixels each) through
     `DataLoader(batch_size=1)` with 0 and 2 workers: windows/s and decoded frames/s.
Run: `python benchmarks/bench_video.py`.
"""

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from momentzoo.data.feature_extraction import VideoFeatureExtractor, extract_features_to_folder
from momentzoo.data.synthetic_video import make_synthetic_video_dataset
from momentzoo.data.video import iter_video_frames, probe_video, read_video_frames


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = Path(os.environ.get("MOMENTZOO_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    tmp = Path(tempfile.mkdtemp())
    video = root / "videos" / "charades_OHOFG.mp4"
    if not video.is_file():
        video = Path(make_synthetic_video_dataset(tmp / "synthetic", num_videos=1)[0]["video"]["path"])
    info = probe_video(video)
    print(
        f"video: {video.name} {info.width}x{info.height}, {info.duration:.2f} s at {info.fps:.2f} fps; cpu count {os.cpu_count()}, load {os.getloadavg()[0]:.1f}"
    )

    seconds = best_of(lambda: read_video_frames(video, size=224), repeat=1)
    frames = len(read_video_frames(video, fps=None, start=0.0, size=16).timestamps)
    print(
        f"full decode + resize to 224 short side: {frames / seconds:.0f} frames/s ({seconds:.2f} s for {frames} frames)"
    )

    start, end = max(0.0, info.duration - 6.0), info.duration - 1.0
    seek = best_of(lambda: read_video_frames(video, start=start, end=end, fps=8, size=224))

    def from_the_start():
        return [f for f, t, _ in iter_video_frames(video, fps=8, size=224) if start <= t < end]

    linear = best_of(from_the_start)
    print(
        f"5-s range read at 8 fps ({start:.1f}-{end:.1f} s): seek {seek * 1000:.0f} ms, decoding from the start {linear * 1000:.0f} ms"
    )

    import torch

    from momentzoo.testing import tiny_videomae

    torch.manual_seed(0)
    tiny_videomae(image_size=112, num_frames=16).save_pretrained(tmp / "videomae")
    extractor = VideoFeatureExtractor.from_pretrained(tmp / "videomae", fps=30, resize=128, batch_size=16)

    def pipeline_only():  # decoding, resizing, cropping and clip assembly, no model
        frames = (extractor._crop(f) for f, _, _ in iter_video_frames(video, fps=30, size=128))
        return sum(1 for _ in extractor._clips(frames))

    start_time = time.perf_counter()
    clips = pipeline_only()
    elapsed = time.perf_counter() - start_time
    print(
        f"decode + resize 128 + crop 112 + 16-frame clips every 4 frames at 30 fps, no model: {clips / elapsed:.0f} clips/s, {info.duration / elapsed:.1f} video-s/s"
    )

    folder = tmp / "videos"
    folder.mkdir()
    for index in range(2):
        os.symlink(video, folder / f"video_{index}{video.suffix}")
    start_time = time.perf_counter()
    report = extract_features_to_folder(extractor, folder, tmp / "features", progress=False)
    elapsed = time.perf_counter() - start_time
    shapes = [np.load(tmp / "features" / f"{v}.npy").shape for v in report.processed]
    print(
        f"extract_features_to_folder (tiny VideoMAE 2 layers x 32, 112x112, same clips, batch 16): "
        f"{sum(s[0] for s in shapes) / elapsed:.1f} clips/s, {2 * info.duration / elapsed:.1f} video-s/s; features {shapes[0]}"
    )

    bench_video_collator(video, info, tmp)


def bench_video_collator(video, info, tmp):
    import torch

    from momentzoo.data.video_collator import FramePreprocessor, TemporalVideoCollator

    collator = TemporalVideoCollator(
        fps=8.0,
        preprocessor=FramePreprocessor(224, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        clip_length=16,
        feature_stride=2,
        num_frames=2,
        max_frames=128,
        generator=torch.Generator().manual_seed(0),
    )
    end = min(info.duration - 1.0, 8.0)
    rows = [
        {
            "video_id": f"video_{i}",
            "video": str(video),
            "duration": info.duration,
            "segments": [[2.0, end]],
            "labels": [0],
        }
        for i in range(8)
    ]
    for workers in (0, 2):
        loader = torch.utils.data.DataLoader(rows * 2, batch_size=1, num_workers=workers, collate_fn=collator)
        start_time = time.perf_counter()
        frames = windows = 0
        for batch in loader:
            frames += int(batch["attention_mask"].sum())
            windows += batch["pixel_values"].shape[0]
        elapsed = time.perf_counter() - start_time
        print(
            f"TemporalVideoCollator, {workers} workers: {windows / elapsed:.2f} windows/s of 128 frames at 224x224 "
            f"({frames / elapsed:.0f} decoded frames/s, {windows} windows incl. worker start-up)"
        )


if __name__ == "__main__":
    main()
