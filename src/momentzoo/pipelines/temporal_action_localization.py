"""The `temporal-action-localization` pipeline: a video (or its features) in, action segments in seconds out.

    import momentzoo
    from transformers import pipeline

    detector = pipeline("temporal-action-localization", model="path/to/actionformer",
                        feature_extractor="MCG-NJU/videomae-base")   # the encoder the model's features came from
    detector("video.mp4")
    # [{"segment": [12.4, 17.9], "score": 0.91, "label": "CliffDiving"}, ...]   (seconds, best first)
    detector(features, fps=30, feature_stride=4, num_frames=16)   # a (T, D) feature array instead

Inputs (one, or a list of them as a batch):

* a **video**: a path to a video file, its bytes, or the `{"bytes", "path"}` dict of a `datasets.Video(decode=False)`
  column. It is decoded with PyAV and encoded into per-step features by the model's own vision encoder when it
  has one (end-to-end models with a `vision_config` and `encode_video`, such as ActionVLM on a VideoMAE:
  `ModelVideoEncoder`, options in `feature_extractor_kwargs`), otherwise by the
  `feature_extractor` given to the pipeline: a `momentzoo.data.VideoFeatureExtractor` (or any object with its
  `extract(video) -> (features, fps, duration)`, `feature_stride` and `num_frames`), or the hub id / path of a
  transformers vision encoder, loaded with `VideoFeatureExtractor.from_pretrained` at the model's
  `feature_stride` and `num_frames` (`feature_extractor_kwargs` override them). Feature-only models such as
  ActionFormer must be given the encoder their features came from: the output is only meaningful then.
* a **feature array** `(T, D)` (NumPy or torch), or a `.npy` / `.npz` / `.pt` feature file, with the geometry
  that maps feature steps to seconds: `fps`, `feature_stride`, `num_frames` (default: the model config's) and
  `duration` (default: every frame the features saw, `((T - 1) * feature_stride + num_frames) / fps`).
* a **TAL dataset row** (a dict with `features` and the geometry columns, e.g. `dataset["test"][0]`).

Videos longer than `window_size` feature steps (default: the model's `max_seq_len`; `window_size=None` runs the
whole video at once) are cut into windows overlapping by `window_overlap`; each window is detected on its own and
the windows' detections are merged with the model's NMS settings (`momentzoo.data.merge_window_predictions`).

Output per input: a list of `{"segment": [start, end], "score": float, "label": str}` in seconds inside
`[0, duration]`, sorted by score: the format the `tal_map` metric takes. Labels are `config.id2label` names, or,
for open-vocabulary models (PSFTR), the `candidate_labels` passed to the call.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from transformers import Pipeline

from ..data.model_video_encoder import ModelVideoEncoder
from ..models.temporal_localization import TemporalLocalizationConfigMixin

__all__ = ["TemporalActionLocalizationPipeline", "ModelVideoEncoder"]

_FEATURE_FILE_SUFFIXES = (".npy", ".npz", ".pt")
_GEOMETRY = ("fps", "feature_stride", "num_frames", "duration")
_UNSET = object()


def _positive(name: str, value, integer: bool = False):
    if value is None:
        return None
    if isinstance(value, (np.generic, torch.Tensor)):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"temporal-action-localization: {name} must be a finite number > 0, got {value!r}")
    if integer:
        if int(value) != value:
            raise ValueError(f"temporal-action-localization: {name} must be an integer, got {value!r}")
        return int(value)
    return float(value)


class TemporalActionLocalizationPipeline(Pipeline):
    """Detects actions in untrimmed videos with any momentzoo temporal-localization model (see the module
    docstring for inputs and outputs).

    Args (construction, besides `model`):
        feature_extractor: for feature-only models, the video encoder (a `VideoFeatureExtractor`, a compatible
            object, or a hub id / path loaded with `VideoFeatureExtractor.from_pretrained` at the model config's
            `feature_stride` and `num_frames`). Not needed by models with their own encoder.
        feature_extractor_kwargs: keyword arguments for `VideoFeatureExtractor.from_pretrained` (`fps`,
            `feature_stride`, `num_frames`, `batch_size`, ...) or, for end-to-end models, `ModelVideoEncoder`
            (`fps`, `clips_per_batch`, `image_mean`, `image_std`).
    Call parameters:
        fps, feature_stride, num_frames, duration: geometry of a feature input (ignored for videos, whose geometry
            comes from the encoder).
        window_size (`int` or `None`; default the model's `max_seq_len` or `slice_size`), window_overlap (`float`;
            default the config's `inference_slice_overlap` or 0.25), window_batch_size (`int`, 4): sliding windows.
        progress (`bool` or `None`, None): a tqdm bar while a video is encoded: None shows it once encoding has
            taken 2 s (a long video), True at once, False never (`transformers.utils.logging.disable_progress_bar()`
            silences it too).
        threshold (`float`, 0.0): drop detections scoring below it. top_k (`int`): keep at most this many.
        candidate_labels (`list[str]`): class names for open-vocabulary models (whose forward takes `class_names`
            or `candidate_labels`, e.g. PSFTR); the returned labels are these names.
    """

    _load_tokenizer = None  # a text-conditioned model (PSFTR, ActionVLM) may ship one; optional
    _load_feature_extractor = False  # ours is a video encoder, not a transformers FeatureExtractionMixin
    _load_image_processor = False
    _load_video_processor = False
    _load_processor = False

    def __init__(self, *args, feature_extractor=None, feature_extractor_kwargs: dict | None = None, **kwargs):
        self._feature_extractor_kwargs = dict(feature_extractor_kwargs or {})
        super().__init__(*args, feature_extractor=None, **kwargs)
        if not isinstance(self.model.config, TemporalLocalizationConfigMixin):
            raise ValueError(
                f"temporal-action-localization needs a momentzoo temporal-localization model (a config with "
                f"TemporalLocalizationConfigMixin); {type(self.model).__name__} is not one"
            )
        self.video_encoder = self._resolve_video_encoder(feature_extractor)

    # ----------------------------------------------------------------------------------------- set-up
    def _resolve_video_encoder(self, feature_extractor):
        if feature_extractor is None:
            if self.model.config.has_video_encoder:
                # end-to-end models encode videos with their own vision encoder
                return ModelVideoEncoder(self.model, **self._feature_extractor_kwargs)
            return None
        if isinstance(feature_extractor, (str, os.PathLike)):
            from ..data.feature_extraction import VideoFeatureExtractor

            config = self.model.config
            kwargs = {"feature_stride": config.feature_stride, "device": self.device}
            if config.num_frames != 1:
                kwargs["num_frames"] = config.num_frames
            kwargs.update(self._feature_extractor_kwargs)
            feature_extractor = VideoFeatureExtractor.from_pretrained(feature_extractor, **kwargs)
        for attribute in ("extract", "feature_stride", "num_frames"):
            if not hasattr(feature_extractor, attribute):
                raise ValueError(
                    f"feature_extractor must be a momentzoo.data.VideoFeatureExtractor, an object with "
                    f"extract(video, progress=None), "
                    f"feature_stride and num_frames, or a hub id / path of a vision encoder; "
                    f"{type(feature_extractor).__name__} has no {attribute!r}"
                )
        input_dim = self.model.config.input_dim
        encoder_dim = getattr(feature_extractor, "feature_dim", None)
        if encoder_dim is not None and int(encoder_dim) != int(input_dim):
            raise ValueError(
                f"feature_extractor {getattr(feature_extractor, 'encoder_id', type(feature_extractor).__name__)} gives "
                f"{encoder_dim}-d features but the model takes input_dim={input_dim}"
            )
        return feature_extractor

    def _sanitize_parameters(
        self,
        fps=None,
        feature_stride=None,
        num_frames=None,
        duration=None,
        window_size=_UNSET,
        window_overlap=None,
        window_batch_size=None,
        threshold=None,
        top_k=None,
        candidate_labels=None,
        progress=_UNSET,
        **kwargs,
    ):
        if kwargs:
            raise ValueError(f"temporal-action-localization: unknown argument(s) {sorted(kwargs)}")
        preprocess, forward, postprocess = {}, {}, {}
        geometry = {
            "fps": _positive("fps", fps),
            "feature_stride": _positive("feature_stride", feature_stride, True),
            "num_frames": _positive("num_frames", num_frames, True),
            "duration": _positive("duration", duration),
        }
        preprocess.update({k: v for k, v in geometry.items() if v is not None})
        if progress is not _UNSET:
            if progress not in (True, False, None):
                raise ValueError(
                    f"temporal-action-localization: progress must be True, False or None, got {progress!r}"
                )
            preprocess["progress"] = progress
        if window_size is not _UNSET:
            if window_size is not None:
                window_size = _positive("window_size", window_size, True)
            preprocess["window_size"] = window_size
        if window_overlap is not None:
            if (
                isinstance(window_overlap, bool)
                or not isinstance(window_overlap, (int, float))
                or not 0 <= window_overlap < 1
            ):
                raise ValueError(
                    f"temporal-action-localization: window_overlap must be in [0, 1), got {window_overlap!r}"
                )
            preprocess["window_overlap"] = float(window_overlap)
        if window_batch_size is not None:
            forward["window_batch_size"] = _positive("window_batch_size", window_batch_size, True)
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
                raise ValueError(f"temporal-action-localization: threshold must be in [0, 1], got {threshold!r}")
            postprocess["threshold"] = float(threshold)
        if top_k is not None:
            postprocess["top_k"] = _positive("top_k", top_k, True)
        if candidate_labels is not None:
            if (
                isinstance(candidate_labels, str)
                or not candidate_labels
                or not all(isinstance(name, str) and name.strip() for name in candidate_labels)
            ):
                raise ValueError(f"candidate_labels must be a non-empty list of class names, got {candidate_labels!r}")
            if len(set(candidate_labels)) != len(candidate_labels):
                raise ValueError(f"candidate_labels has duplicates: {candidate_labels}")
            if not self.model.config.takes_class_names:
                raise ValueError(
                    f"{type(self.model).__name__} has a fixed class set ({len(self.model.config.id2label)} classes) and "
                    "takes no candidate_labels; only open-vocabulary models (e.g. PSFTR) do"
                )
            forward["candidate_labels"] = list(candidate_labels)
            postprocess["candidate_labels"] = list(candidate_labels)
        return preprocess, forward, postprocess

    def __call__(self, inputs, **kwargs):
        """Detect actions in `inputs` (a video, a feature array or file, a TAL row, or a list of them)."""
        if kwargs.get("batch_size", self._batch_size) not in (None, 1):
            raise ValueError(
                "temporal-action-localization runs one video at a time (its windows are batched: "
                "window_batch_size); pass a list of videos instead of batch_size"
            )
        return super().__call__(inputs, **kwargs)

    # ------------------------------------------------------------------------------------ preprocess
    def _read_input(self, inputs, progress: bool | None = None) -> tuple[np.ndarray, dict, str]:
        """(features (T, D) float32, geometry found with them, video id) of one input."""
        from ..data.feature_files import check_feature_array, load_feature_file

        if isinstance(inputs, torch.Tensor):
            return check_feature_array(inputs.detach().float().cpu().numpy(), "input features"), {}, "video"
        if isinstance(inputs, np.ndarray):
            return check_feature_array(inputs, "input features"), {}, "video"
        if isinstance(inputs, dict) and "features" in inputs:
            name = str(inputs.get("video_id", "video"))
            geometry = {k: inputs[k] for k in _GEOMETRY if inputs.get(k) is not None}
            features = inputs["features"]
            features = features.detach().float().cpu().numpy() if isinstance(features, torch.Tensor) else features
            return check_feature_array(features, f"features of row {name!r}"), geometry, name
        if isinstance(inputs, dict) and "video" in inputs and not {"bytes", "path"} & inputs.keys():
            name = str(inputs.get("video_id", "video"))
            features, geometry, _ = self._encode_video(inputs["video"], name, progress)
            return features, geometry, name
        if isinstance(inputs, (str, os.PathLike)) and Path(inputs).suffix.lower() in _FEATURE_FILE_SUFFIXES:
            if not Path(inputs).is_file():
                raise ValueError(f"feature file not found: {inputs}")
            return load_feature_file(inputs), {}, Path(inputs).stem
        if isinstance(inputs, (str, os.PathLike, bytes, bytearray, dict)):
            name = Path(inputs).stem if isinstance(inputs, (str, os.PathLike)) else "video"
            if isinstance(inputs, dict) and inputs.get("path"):
                name = Path(inputs["path"]).stem
            return self._encode_video(inputs, name, progress)
        raise ValueError(
            "temporal-action-localization takes a video (path, bytes or {'bytes', 'path'}), a (T, D) feature array "
            f"or file, or a TAL row with 'features'; got {type(inputs).__name__}"
        )

    def _encode_video(self, video, name: str, progress: bool | None = None) -> tuple[np.ndarray, dict, str]:
        if self.video_encoder is None:
            raise ValueError(
                f"{type(self.model).__name__} works on pre-extracted features and has no vision encoder of its own: "
                "pass feature_extractor=<the encoder its features came from> to pipeline(), or call the pipeline on "
                "a (T, D) feature array"
            )
        if isinstance(video, (str, os.PathLike)) and not Path(video).is_file():
            raise ValueError(f"video file not found: {video}")
        features, fps, duration = self.video_encoder.extract(video, progress=progress)
        from ..data.feature_files import check_feature_array

        features = check_feature_array(features, f"features of video {name!r}")
        geometry = {
            "fps": fps,
            "feature_stride": self.video_encoder.feature_stride,
            "num_frames": self.video_encoder.num_frames,
            "duration": duration,
            "_from_video": True,
        }
        return features, geometry, name

    def preprocess(
        self,
        inputs,
        fps=None,
        feature_stride=None,
        num_frames=None,
        duration=None,
        window_size=_UNSET,
        window_overlap=None,
        progress=None,
    ):
        from ..data.collators import TemporalLocalizationCollator
        from ..data.windows import window_starts

        features, found, video_id = self._read_input(inputs, progress)
        config = self.model.config
        input_dim = config.input_dim
        if features.shape[1] != input_dim:
            raise ValueError(
                f"{video_id}: features have {features.shape[1]} channels per step but the model takes "
                f"input_dim={input_dim}"
            )
        given = {"fps": fps, "feature_stride": feature_stride, "num_frames": num_frames, "duration": duration}
        if found.pop("_from_video", False):
            given = {}  # a video's geometry is the encoder's: what each of its feature steps saw
        given = {key: given.get(key) for key in _GEOMETRY}
        geometry = {}
        defaults = {"fps": config.fps, "feature_stride": config.feature_stride, "num_frames": config.num_frames}
        for key in ("fps", "feature_stride", "num_frames"):
            value = given[key] if given[key] is not None else found.get(key, defaults[key])
            geometry[key] = _positive(key, value, integer=key != "fps")
        length = features.shape[0]
        default_duration = ((length - 1) * geometry["feature_stride"] + geometry["num_frames"]) / geometry["fps"]
        geometry["duration"] = _positive(
            "duration", given["duration"] if given["duration"] is not None else found.get("duration", default_duration)
        )

        declared_size, declared_overlap = config.inference_window
        if window_size is _UNSET:
            window_size = declared_size
        if window_overlap is None:
            window_overlap = declared_overlap
        size = length if window_size is None else min(int(window_size), length)
        stride = max(1, int(round(size * (1 - window_overlap))))
        rows = [
            {
                "video_id": video_id,
                "features": features[start : start + size],
                **geometry,
                "window_start": start,
                "video_feature_length": length,
            }
            for start in window_starts(length, size, stride)
        ]
        collator = TemporalLocalizationCollator(
            max_seq_len=None, training=False, return_metadata=True, release_mapped_memory=False
        )
        return {"rows": rows, "collator": collator, "video_id": video_id, "duration": geometry["duration"]}

    # --------------------------------------------------------------------------------------- forward
    def _forward(self, model_inputs, window_batch_size: int = 4, candidate_labels=None):
        rows, collator = model_inputs["rows"], model_inputs["collator"]
        ignore = set(self.model.config.keys_to_ignore_at_inference)
        dtype = next((p.dtype for p in self.model.parameters() if p.is_floating_point()), torch.float32)
        batches = []
        for first in range(0, len(rows), window_batch_size):
            batch = collator(rows[first : first + window_batch_size])
            metadata = batch.pop("metadata")
            inputs = {
                "input_features": batch["input_features"].to(self.device, dtype),
                "attention_mask": batch["attention_mask"].to(self.device),
            }
            if candidate_labels is not None:
                inputs["class_names"] = candidate_labels
            outputs = self.model(**inputs)
            kept = {key: value for key, value in outputs.items() if key not in ignore and key != "loss"}
            batches.append({"outputs": kept, "metadata": metadata})
        return {"batches": batches, "video_id": model_inputs["video_id"], "duration": model_inputs["duration"]}

    # ----------------------------------------------------------------------------------- postprocess
    def postprocess(self, model_outputs, threshold: float = 0.0, top_k: int | None = None, candidate_labels=None):
        from ..data.windows import merge_window_predictions

        predictions, metadata = [], []
        extra = {}
        if candidate_labels is not None:
            extra["class_names"] = candidate_labels
        for batch in model_outputs["batches"]:
            found = self.model.post_process(batch["outputs"], batch["metadata"], **extra)
            predictions.extend(found)
            metadata.extend(batch["metadata"])
        names = candidate_labels if candidate_labels is not None else self.model.config.id2label
        for window in predictions:
            for prediction in window:
                label = prediction["label"]
                if isinstance(label, (int, np.integer)):
                    try:
                        prediction["label"] = names[int(label)]
                    except (KeyError, IndexError):
                        raise ValueError(
                            f"the model predicted class id {label}, which has no name (known: {len(names)} classes)"
                        ) from None
        merged = merge_window_predictions(predictions, metadata, self.model.config.window_merge_nms_kwargs())
        detections = merged.get(model_outputs["video_id"], [])
        detections = [d for d in detections if d["score"] >= threshold]
        return detections[:top_k] if top_k is not None else detections
