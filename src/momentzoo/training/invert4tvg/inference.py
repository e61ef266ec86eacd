"""Generation and scoring with a Qwen2.5-VL grounding model outside the trainer: the evaluation script, the
grounding pipeline and the tests share these.

* `load_clip_video_inputs`: the video tensors of each task row's clip (decoded once per distinct clip).
* `generate_answers`: batched greedy (or sampled) generation for task rows, with each answer's mean token
  probability.
* `evaluate_task_answers`: grounding recall (R1@m, mIoU with the `grounding_recall` metric) for TVG rows and
  the accuracies of the inversion tasks (the share of answers whose task reward is 1), plus each task's mean
  reward and format rate.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch

from ...data.qwen2_5_vl_video import Qwen2_5_VLVideoChatProcessor, Qwen2_5_VLVideoProcessor, concat_video_inputs
from ...rewards import (
    TASKS,
    action_recognition_reward,
    format_reward,
    iou_reward,
    verb_completion_reward,
    video_description_reward,
)
from .tasks import row_name

__all__ = [
    "load_clip_video_inputs",
    "check_video_llm",
    "vision_token_ids",
    "generate_answers",
    "evaluate_task_answers",
    "TASK_ACCURACY_REWARDS",
]

TASK_ACCURACY_REWARDS = {
    "tvg": iou_reward,
    "vc": verb_completion_reward,
    "ar": action_recognition_reward,
    "vd": video_description_reward,
}


def load_clip_video_inputs(
    video_processor: Qwen2_5_VLVideoProcessor, rows: Sequence[dict], device=None, video_root=None
) -> list[dict]:
    """Per row (with `video` and `clip` = `(start, end)` seconds), the clip's video tensors on `device`.
    Rows showing the same clip of the same file share one decoded copy."""
    cache: dict[Any, dict] = {}
    out = []
    for i, row in enumerate(rows):
        source = row["video"]
        if isinstance(source, dict):
            path = source.get("path")
        elif isinstance(source, (bytes, bytearray)):
            path = None
        else:
            path = os.fspath(source)
        key = (path if path is not None else ("bytes", str(row.get("qid", i))), tuple(row["clip"]))
        if key not in cache:
            start, end = row["clip"]
            try:
                clip = video_processor.read_clip(source, start, end, root=video_root)
                inputs = video_processor.preprocess(clip.frames, clip.fps)
            except ValueError as error:
                raise ValueError(f"{row_name(row, i)}: {error}") from error
            cache[key] = {k: v.to(device) if device is not None else v for k, v in inputs.items()}
        out.append(cache[key])
    return out


@torch.no_grad()
def check_video_llm(config, who: str) -> None:
    """`who` (a trainer, a pipeline) runs on Qwen2-VL / Qwen2.5-VL checkpoints (video input, their vision tokens and
    geometry): a ValueError naming the config otherwise."""
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig

    if not isinstance(config, (Qwen2VLConfig, Qwen2_5_VLConfig)):
        raise ValueError(f"{who} needs a Qwen2-VL/Qwen2.5-VL model with video input; got a {type(config).__name__}")


def vision_token_ids(config) -> list[int]:
    """The vision placeholder tokens of a Qwen2.5-VL config (video, image, vision start). Generation suppresses them:
    a sampled vision token would have no features behind it in the next forward pass."""
    ids = (config.video_token_id, config.image_token_id, config.vision_start_token_id)
    return [t for t in ids if t is not None]


def generate_answers(
    model,
    video_chat: Qwen2_5_VLVideoChatProcessor,
    rows: Sequence[dict],
    video_inputs: Sequence[dict],
    batch_size: int = 4,
    max_new_tokens: int = 256,
    **generate_kwargs,
) -> tuple[list[str], list[float]]:
    """(answers, scores) for task rows (with `prompt` chat messages) and their `video_inputs`.

    Greedy unless `do_sample=True` is passed. The score of an answer is the geometric mean of its tokens'
    probabilities under the model (in (0, 1]; 0.0 for an empty answer).
    """
    if len(rows) != len(video_inputs):
        raise ValueError(f"got {len(rows)} rows but {len(video_inputs)} video inputs")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    tokenizer = video_chat.tokenizer
    config = model.config
    generate_kwargs.setdefault("do_sample", False)
    generate_kwargs.setdefault("suppress_tokens", vision_token_ids(config))
    eos = [tokenizer.eos_token_id] + ([tokenizer.pad_token_id] if tokenizer.pad_token_id is not None else [])
    device = next(model.parameters()).device
    answers, scores = [], []
    for begin in range(0, len(rows), batch_size):
        chunk = list(range(begin, min(begin + batch_size, len(rows))))
        encoded = [video_chat.encode(video_chat.apply_chat_template(rows[i]["prompt"]), video_inputs[i]) for i in chunk]
        width = max(len(ids) for ids, _ in encoded)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros(len(chunk), width, dtype=torch.long)
        token_types = torch.zeros(len(chunk), width, dtype=torch.long)
        for row, (ids, types) in enumerate(encoded):  # left padding, as generation needs
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            attention_mask[row, width - len(ids) :] = 1
            token_types[row, width - len(ids) :] = torch.tensor(types)
        videos = concat_video_inputs([video_inputs[i] for i in chunk])
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "mm_token_type_ids": token_types, **videos}
        inputs = {k: v.to(device) for k, v in inputs.items()}
        out = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            return_dict_in_generate=True,
            output_scores=True,
            pad_token_id=pad_id,
            eos_token_id=tokenizer.eos_token_id,
            **generate_kwargs,
        )
        new_tokens = out.sequences[:, width:]
        log_probs = torch.stack([torch.log_softmax(s.float(), dim=-1) for s in out.scores], dim=1)  # (B, T, V)
        token_log_probs = log_probs.gather(-1, new_tokens.unsqueeze(-1)).squeeze(-1)
        for row in range(len(chunk)):
            tokens = new_tokens[row].tolist()
            length = next((j for j, t in enumerate(tokens) if t in eos), len(tokens))
            answers.append(tokenizer.decode(tokens[:length], skip_special_tokens=True))
            lp = token_log_probs[row, :length]
            scores.append(float(lp.mean().exp()) if length else 0.0)
    return answers, scores


def evaluate_task_answers(
    rows: Sequence[dict], answers: Sequence[str], recall_metric=None, strict: bool = True, percent: bool = False
) -> dict[str, float]:
    """Metrics of answers to task rows (from `build_task_rows`): per task present, `{task}/format` (format
    reward rate), `{task}/reward` (mean total reward, r_format + r_task) and `{task}/accuracy` (mean task
    reward: the IoU for TVG, the 0/1 verb match for VC, AR, VD); for TVG also `R1@0.3`, `R1@0.5`, `R1@0.7`
    and `mIoU` from `recall_metric` (an `evaluate.load(momentzoo.metrics.path("grounding_recall"))` module;
    default: the same computation, `compute_grounding_recall`), with tIoU > m when `strict` (the paper's
    convention, default) and in % when `percent` (the paper's tables)."""
    if len(rows) != len(answers):
        raise ValueError(f"got {len(rows)} rows but {len(answers)} answers")
    results: dict[str, float] = {}
    for task in TASKS:
        picked = [i for i, row in enumerate(rows) if row["task"] == task]
        if not picked:
            continue
        columns = {
            key: [rows[i].get(key) for i in picked] for key in ("task", "query", "windows", "masked_query", "verb")
        }
        completions = [answers[i] for i in picked]
        fmt = format_reward(completions=completions, **columns)
        acc = TASK_ACCURACY_REWARDS[task](completions=completions, **columns)
        results[f"{task}/format"] = sum(fmt) / len(fmt)
        results[f"{task}/accuracy"] = sum(acc) / len(acc)
        results[f"{task}/reward"] = sum(f + a for f, a in zip(fmt, acc)) / len(picked)
        if task == "tvg":
            references = [[list(w) for w in rows[i]["windows"]] for i in picked]
            if recall_metric is None:
                from ...metrics.grounding_recall.grounding_recall import compute_grounding_recall

                recall = compute_grounding_recall(completions, references, ranks=[1], strict=strict, percent=percent)
            else:
                recall = recall_metric.compute(
                    predictions=completions, references=references, ranks=[1], strict=strict, percent=percent
                )
            results.update(recall)
    return results
