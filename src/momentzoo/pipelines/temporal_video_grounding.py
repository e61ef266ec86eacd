"""`pipeline("temporal-video-grounding", model=...)`: (video, query) -> `[{"segment": [s, e], "score"}]` in seconds.

The pipeline serves the interface the model's config declares (`momentzoo.models.temporal_grounding`):

* `"video_chat"`, a Qwen2.5-VL (or Qwen2-VL) checkpoint, e.g. one trained with `Invert4TVGTrainer`
  (`VideoChatGrounding`, below). It samples the video (or the `[start, end)` part of it) with
  `Qwen2_5_VLVideoProcessor` (the settings saved beside the checkpoint in `momentzoo_video_processor.json` when
  present; 2 fps and ~2.8 M pixels otherwise), asks the TVG prompt of Invert4TVG, generates (greedy by default), and
  reads the window with the answer parser shared with the rewards and the `grounding_recall` metric. The segment is
  in seconds of the whole video, clipped to the part the model saw; its score is the mean token probability of the
  answer. An answer without a well-formed window gives an empty list (and a warning); with `return_answer=True` the
  output is `{"predictions": [...], "answer": <the model's text>}` instead.
* `"event_tokens"`, TimeExpert (`TimeExpertGrounding` in `pipelines/timeexpert_grounding.py`): the same call, plus
  `task=` for dense captioning, highlight detection and general answers.

    grounder = pipeline("temporal-video-grounding", model="path/to/checkpoint")
    grounder("video.mp4", query="a person opens the door")
    grounder({"video": frames, "query": "...", "fps": 2.0})        # frames: (T, H, W, 3) uint8 sampled at fps
    grounder([{"video": "a.mp4", "query": "..."}, {"video": "b.mp4", "query": "..."}])
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sized
from pathlib import Path

import numpy as np
from transformers import GenerationConfig, Pipeline

from ..models.temporal_grounding import grounding_interface

# Video reading, prompts and parsing are imported when a pipeline is built, not when `import momentzoo`
# registers this class (they pull in `datasets` and PyAV).

__all__ = ["TemporalVideoGroundingPipeline", "VideoChatGrounding"]

# What `generate` takes besides its inputs: the generation config's fields and the processors.
_GENERATION_ARGUMENTS = frozenset(GenerationConfig().to_dict()) | {
    "logits_processor",
    "stopping_criteria",
    "streamer",
    "prefix_allowed_tokens_fn",
    "synced_gpus",
}

logger = logging.getLogger(__name__)


def _saved_video_processor(model):
    """The video processor saved beside the checkpoint, else the defaults with the model's vision geometry."""
    from ..data.qwen2_5_vl_video import VIDEO_PROCESSOR_FILE, Qwen2_5_VLVideoProcessor

    folder = model.config._name_or_path or model.name_or_path
    if folder and (Path(folder) / VIDEO_PROCESSOR_FILE).is_file():
        return Qwen2_5_VLVideoProcessor.from_pretrained(folder)
    return Qwen2_5_VLVideoProcessor.from_model_config(model.config)


class TemporalVideoGroundingPipeline(Pipeline):
    """Temporal video grounding with a video LLM (see the module doc).

    Call arguments: `video` (a path, bytes, a `{"bytes", "path"}` dict, or a (T, H, W, 3) uint8 frame array with
    `fps`), `query`, optional `start` / `end` (seconds: ground within that part of the video), `fps` (the rate
    of given frames), `max_new_tokens` (default 256), `generate` arguments (`do_sample=True`, `temperature`, ...,
    directly or as `generate_kwargs`), `return_answer`, and what the model's interface adds (TimeExpert: `task`,
    `num_frames`). A dict input may carry `video`, `query`, `start`, `end`, `fps`; a list of inputs is run
    `batch_size` at a time (video chat: one `generate` call per batch, left-padded). Constructor options:
    `frame_processor`, `system_prompt` (video chat), `num_frames` (TimeExpert). `self.grounding` does the
    interface's work.
    """

    _load_tokenizer = True
    _load_processor = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False

    def __init__(self, model, *args, **kwargs):
        # The config declares the interface; its class is needed before Pipeline.__init__ (which already calls
        # _sanitize_parameters), its instance after (it needs the loaded tokenizer).
        self._grounding_class = _grounding_class(grounding_interface(model.config))
        options = {key: kwargs.pop(key) for key in self._grounding_class.init_options if key in kwargs}
        super().__init__(model, *args, **kwargs)
        self.grounding = self._grounding_class(self.model, self.tokenizer, **options)
        self.tokenizer = self.grounding.tokenizer

    def _sanitize_parameters(self, **kwargs):
        return self._grounding_class.sanitize_parameters(**kwargs)

    def __call__(self, video, query=None, **kwargs):
        """Ground `query` in `video`; see the class doc for the inputs. Returns a list of `{"segment", "score"}`
        (a list of such lists for a batch)."""
        return super().__call__(video, query=query, **kwargs)

    def get_iterator(self, inputs, num_workers, batch_size, preprocess_params, forward_params, postprocess_params):
        """With `batch_size > 1`, samples are batched as lists (their prompts and videos differ in length; the
        interface pads them in its `forward`) instead of by the tensor-padding default collator."""
        if batch_size == 1:
            return super().get_iterator(
                inputs, num_workers, batch_size, preprocess_params, forward_params, postprocess_params
            )
        if not self._grounding_class.batched:
            raise ValueError(f"{self._grounding_class.__name__} runs one input at a time: use batch_size=1")
        from torch.utils.data import DataLoader
        from transformers.pipelines.pt_utils import PipelineDataset, PipelineIterator

        dataset = (PipelineDataset if isinstance(inputs, Sized) else PipelineIterator)(
            inputs, self.preprocess, preprocess_params
        )
        loader = DataLoader(dataset, num_workers=num_workers, batch_size=batch_size, collate_fn=_as_lists)
        batches = PipelineIterator(loader, self.forward, forward_params, loader_batch_size=batch_size)
        return PipelineIterator(batches, self.postprocess, postprocess_params)

    def preprocess(self, inputs, **kwargs):
        return self.grounding.preprocess(inputs, **kwargs)

    def _forward(self, model_inputs, **kwargs):
        return self.grounding.forward(model_inputs, **kwargs)

    def postprocess(self, model_outputs, **kwargs):
        return self.grounding.postprocess(model_outputs, **kwargs)


def _grounding_class(interface: str):
    if interface == "event_tokens":
        from .timeexpert_grounding import TimeExpertGrounding

        return TimeExpertGrounding
    return VideoChatGrounding


class VideoChatGrounding:
    """The `"video_chat"` interface: a Qwen2-VL / Qwen2.5-VL checkpoint asked the Invert4TVG grounding prompt."""

    init_options = ("frame_processor", "system_prompt")
    batched = True  # `forward` takes lists of samples (one `generate` call, left-padded)

    def __init__(self, model, tokenizer, frame_processor=None, system_prompt: str | None = None):
        from ..data.qwen2_5_vl_video import Qwen2_5_VLVideoChatProcessor
        from ..training.invert4tvg.inference import check_video_llm

        check_video_llm(model.config, "temporal-video-grounding")
        if tokenizer is None:
            raise ValueError("temporal-video-grounding needs the model's tokenizer (pass tokenizer=...)")
        self.model, self.tokenizer = model, tokenizer
        self.frame_processor = frame_processor if frame_processor is not None else _saved_video_processor(model)
        self.chat = Qwen2_5_VLVideoChatProcessor(tokenizer, self.frame_processor)
        self.system_prompt = system_prompt
        # Several queries on one video are the common case: keep the last file's sampled clip.
        self._last_clip = None

    @staticmethod
    def sanitize_parameters(
        query=None,
        start=None,
        end=None,
        fps=None,
        max_new_tokens=None,
        generate_kwargs=None,
        return_answer=None,
        **kwargs,
    ):
        # As in transformers' generation pipelines, `generate` arguments may be passed directly (do_sample=True, ...).
        generation = {k: kwargs.pop(k) for k in list(kwargs) if k in _GENERATION_ARGUMENTS}
        if kwargs:
            raise ValueError(f"unknown argument(s) for temporal-video-grounding: {sorted(kwargs)}")
        preprocess = {
            k: v for k, v in (("query", query), ("start", start), ("end", end), ("fps", fps)) if v is not None
        }
        forward = {
            "max_new_tokens": 256 if max_new_tokens is None else int(max_new_tokens),
            "generate_kwargs": {**(generate_kwargs or {}), **generation},
        }
        postprocess = {"return_answer": bool(return_answer)}
        return preprocess, forward, postprocess

    def preprocess(self, inputs, query=None, start=None, end=None, fps=None):
        from ..training.invert4tvg.prompts import task_messages

        if isinstance(inputs, dict) and "video" in inputs:
            query = inputs.get("query", query)
            start, end, fps = inputs.get("start", start), inputs.get("end", end), inputs.get("fps", fps)
            inputs = inputs["video"]
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"temporal-video-grounding needs a non-empty query string, got {query!r}")
        if isinstance(inputs, np.ndarray) or _is_tensor(inputs):
            if fps is None:
                raise ValueError("frames given as an array need `fps`, the rate they were sampled at")
            if len(inputs) == 0:
                raise ValueError("no frames given")
            offset = 0.0 if start is None else float(start)
            clip_start, clip_end = offset, offset + len(inputs) / float(fps)
            video = self.frame_processor.preprocess(inputs, float(fps))
        else:
            key = None
            if isinstance(inputs, (str, os.PathLike)):
                path = os.path.abspath(os.fspath(inputs))
                if not os.path.isfile(path):
                    raise ValueError(f"video file not found: {os.fspath(inputs)}")
                stat = os.stat(path)
                key = (path, stat.st_mtime_ns, stat.st_size, start, end)
            if key is not None and self._last_clip is not None and self._last_clip[0] == key:
                clip_start, clip_end, video = self._last_clip[1]
            else:
                clip = self.frame_processor.read_clip(inputs, 0.0 if start is None else float(start), end)
                clip_start, clip_end = clip.start, clip.end
                video = self.frame_processor.preprocess(clip.frames, clip.fps)
                if key is not None:
                    self._last_clip = (key, (clip_start, clip_end, video))
        duration = clip_end - clip_start
        if not (math.isfinite(duration) and duration > 0):
            raise ValueError(f"the video part to ground in is empty: [{clip_start}, {clip_end})")
        messages = task_messages("tvg", self.system_prompt, query=query, duration=duration)
        return {"prompt": messages, "video_inputs": video, "clip_start": clip_start, "clip_duration": duration}

    def forward(self, model_inputs, max_new_tokens=256, generate_kwargs=None):
        from ..training.invert4tvg.inference import generate_answers

        batched = isinstance(model_inputs["clip_start"], list)
        samples = model_inputs if batched else {k: [v] for k, v in model_inputs.items()}
        answers, scores = generate_answers(
            self.model,
            self.chat,
            [{"prompt": prompt} for prompt in samples["prompt"]],
            samples["video_inputs"],
            batch_size=len(samples["prompt"]),
            max_new_tokens=max_new_tokens,
            **(generate_kwargs or {}),
        )
        outputs = {
            "answer": answers,
            "score": scores,
            "clip_start": samples["clip_start"],
            "clip_duration": samples["clip_duration"],
        }
        return outputs if batched else {k: v[0] for k, v in outputs.items()}

    def postprocess(self, model_outputs, return_answer=False):
        from ..rewards.parsing import parse_window

        answer = model_outputs["answer"]
        offset, duration = float(model_outputs["clip_start"]), float(model_outputs["clip_duration"])
        window = parse_window(answer)
        results = []
        if window is None:
            logger.warning("temporal-video-grounding: no window in the model's answer %r", answer[:200])
        else:
            # The model sees the clip from its own time 0: clip the window to it, then shift to video time.
            s, e = (min(max(t, 0.0), duration) for t in window)
            results.append({"segment": [offset + s, offset + e], "score": float(model_outputs["score"])})
        return {"predictions": results, "answer": answer} if return_answer else results


def _as_lists(samples: list[dict]) -> dict[str, list]:
    return {key: [sample[key] for sample in samples] for key in samples[0]}


def _is_tensor(x) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(x, torch.Tensor)
