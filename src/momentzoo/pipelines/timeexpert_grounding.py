"""`pipeline("temporal-video-grounding", model=<a TimeExpert checkpoint>)`: TimeExpert behind the grounding task.

`TemporalVideoGroundingPipeline` hands its work to this class when the config declares the `"event_tokens"`
interface (`TimeExpertConfig` does; `momentzoo.models.temporal_grounding`). Inputs are a video (path, bytes or
`{"bytes", "path"}`; needs a checkpoint with a vision encoder), frames (`{"video": (T, H, W, 3) uint8, "fps"}`), or
pre-extracted `{"frame_features": (T, P, D), "duration": s}` (optional `frame_times`, default the centres of T equal
bins). `task` picks the answer (`moment_retrieval` by default):

- `moment_retrieval`: `[{"segment": [s, e], "score"}]` in seconds of the whole video;
- `dense_captioning`: `[{"segment": [s, e], "caption"}]` (no query needed);
- `highlight_detection`: `[{"timestamp": s, "score"}]`;
- `general`: `[{"answer": text}]` (the query is the question).

A malformed answer gives [] and a warning (`return_answer=True` adds the raw event string).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from ..models.timeexpert import TASK_TYPES, TimeExpertProcessor, safe_parse_events

__all__ = ["TimeExpertGrounding"]

logger = logging.getLogger(__name__)


class TimeExpertGrounding:
    """The `"event_tokens"` interface: TimeExpert grounding, dense captioning and highlight detection (see the module
    doc). `num_frames` (default 64): the frames sampled from a video."""

    init_options = ("num_frames",)
    batched = False  # one video at a time: `forward` takes one sample

    def __init__(self, model, tokenizer, num_frames: int = 64):
        tokenizer = tokenizer if tokenizer is not None else model.tokenizer
        if tokenizer is None:
            raise ValueError("temporal-video-grounding needs TimeExpert's tokenizer (pass tokenizer=...)")
        if not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(f"num_frames must be a positive integer, got {num_frames!r}")
        self.model, self.tokenizer, self.num_frames = model, tokenizer, num_frames
        self.processor = TimeExpertProcessor.from_config(tokenizer, model.config)

    @staticmethod
    def sanitize_parameters(
        query=None,
        task=None,
        start=None,
        end=None,
        fps=None,
        num_frames=None,
        max_new_tokens=None,
        generate_kwargs=None,
        return_answer=None,
        **kwargs,
    ):
        if kwargs:
            raise ValueError(f"unknown argument(s) for temporal-video-grounding: {sorted(kwargs)}")
        if task is not None and task not in TASK_TYPES:
            raise ValueError(f"unknown TimeExpert task type {task!r}; known: {list(TASK_TYPES)}")
        preprocess = {
            k: v
            for k, v in (
                ("query", query),
                ("task", task),
                ("start", start),
                ("end", end),
                ("fps", fps),
                ("num_frames", num_frames),
            )
            if v is not None
        }
        forward = {
            "max_new_tokens": 256 if max_new_tokens is None else int(max_new_tokens),
            "generate_kwargs": dict(generate_kwargs or {}),
        }
        return preprocess, forward, {"return_answer": bool(return_answer)}

    def _frames(self, inputs, start, end, fps, num_frames):
        """(frame_features or pixel_values as (1, T, ...), frame times from the clip start, clip start, clip length)."""
        config = self.model.config
        if isinstance(inputs, dict) and "frame_features" in inputs:
            features = torch.as_tensor(np.asarray(inputs["frame_features"]), dtype=torch.float32)
            duration = float(inputs.get("duration") or 0)
            if features.ndim != 3 or not math.isfinite(duration) or duration <= 0:
                raise ValueError("frame_features must be (frames, patches, dim) with a positive 'duration' in seconds")
            times = inputs.get("frame_times")
            times = (
                [(i + 0.5) * duration / len(features) for i in range(len(features))]
                if times is None
                else [float(t) for t in times]
            )
            return {"frame_features": features[None]}, times, 0.0, duration
        if config.vision_config is None:
            raise ValueError("this TimeExpert reads pre-extracted frame features: pass {'frame_features', 'duration'}")
        from ..data.video import probe_video, read_video_frames

        size = config.vision_config.image_size
        offset = 0.0 if start is None else float(start)
        if isinstance(inputs, np.ndarray) or torch.is_tensor(inputs):
            if fps is None:
                raise ValueError("frames given as an array need `fps`, the rate they were sampled at")
            frames = torch.as_tensor(np.asarray(inputs))
            if frames.ndim != 4 or len(frames) == 0:
                raise ValueError(f"frames must be a non-empty (T, H, W, 3) array, got shape {tuple(frames.shape)}")
            span = len(frames) / float(fps)
            pick = torch.linspace(0, len(frames) - 1, min(num_frames, len(frames))).round().long()
            frames, times = frames[pick], [(float(i) + 0.5) / float(fps) for i in pick]
            frames = torch.nn.functional.interpolate(
                frames.permute(0, 3, 1, 2).float(), size=(size, size), mode="bilinear", align_corners=False
            )
        else:
            video_end = probe_video(inputs).duration if end is None else float(end)
            span = video_end - offset
            if not (math.isfinite(span) and span > 0):
                raise ValueError(f"the video part to ground in is empty: [{offset}, {video_end})")
            clip = read_video_frames(
                inputs, offset, video_end, fps=num_frames / span, size=(size, size), return_tensors="pt"
            )
            frames = clip.frames.permute(0, 3, 1, 2).float()
            times = [float(t) - offset for t in clip.timestamps]
        mean = torch.tensor(config.image_mean)[:, None, None]
        std = torch.tensor(config.image_std)[:, None, None]
        return {"pixel_values": ((frames / 255.0 - mean) / std)[None]}, [min(t, span) for t in times], offset, span

    def preprocess(self, inputs, query=None, task=None, start=None, end=None, fps=None, num_frames=None):
        from ..training.timeexpert.data import TIMEEXPERT_TASK_PROMPTS

        if isinstance(inputs, dict) and "frame_features" not in inputs and "video" in inputs:
            query, task = inputs.get("query", query), inputs.get("task", task)
            start, end, fps = inputs.get("start", start), inputs.get("end", end), inputs.get("fps", fps)
            inputs = inputs["video"]
        elif isinstance(inputs, dict):
            query, task = inputs.get("query", query), inputs.get("task", task)
        task = task or "moment_retrieval"
        if task not in TASK_TYPES:
            raise ValueError(f"unknown TimeExpert task type {task!r}; known: {list(TASK_TYPES)}")
        if task != "dense_captioning" and (not isinstance(query, str) or not query.strip()):
            raise ValueError(f"temporal-video-grounding ({task}) needs a non-empty query string, got {query!r}")
        frames, times, offset, span = self._frames(inputs, start, end, fps, num_frames or self.num_frames)
        prompt = TIMEEXPERT_TASK_PROMPTS[task].format(query=query, question=query)
        sample = self.processor(times, prompt, task=task, duration=span)
        model_inputs = {
            "input_ids": torch.tensor([sample["input_ids"]]),
            "task_ids": torch.tensor([sample["task_ids"]]),
        }
        return {**model_inputs, **frames, "task": task, "clip_start": offset, "clip_duration": span}

    def forward(self, model_inputs, max_new_tokens=256, generate_kwargs=None):
        inputs = {k: v for k, v in model_inputs.items() if torch.is_tensor(v)}
        kwargs = {"do_sample": False, **(generate_kwargs or {})}
        out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, **kwargs)
        answer = self.processor.decode(out[0, inputs["input_ids"].shape[1] :].tolist())
        return {"answer": answer, **{k: model_inputs[k] for k in ("task", "clip_start", "clip_duration")}}

    def postprocess(self, model_outputs, return_answer=False):
        answer, task = model_outputs["answer"], model_outputs["task"]
        offset, span = float(model_outputs["clip_start"]), float(model_outputs["clip_duration"])
        events = safe_parse_events(answer, span)
        if not events:
            logger.warning("temporal-video-grounding: no well-formed event in TimeExpert's answer %r", answer[:200])
        results = []
        for event in events:
            if task in ("moment_retrieval", "dense_captioning") and len(event.timestamps) == 2:
                s, e = event.timestamps
                if s <= e:
                    item = {"segment": [offset + s, offset + e]}
                    item.update(
                        {"caption": event.caption}
                        if task == "dense_captioning"
                        else {"score": event.scores[0] if event.scores else 1.0}
                    )
                    results.append(item)
            elif task == "highlight_detection" and len(event.timestamps) == len(event.scores):
                results += [{"timestamp": offset + t, "score": s} for t, s in zip(event.timestamps, event.scores)]
            elif task == "general" and event.caption:
                results.append({"answer": event.caption})
        return {"predictions": results, "answer": answer} if return_answer else results
