"""Supervised warm-up before Invert4TVG's GRPO (Invert-SFT): video clip + task prompt -> reference answer.

`make_invert_sft_dataset` gives one row per (grounding row, task): by default the three inversion tasks, so
the model learns to name the action of a ground-truth clip (the paper's Invert-SFT: clip -> query); add
``"tvg"`` to also teach the grounding answer format. `Invert4TVGSFTCollator` turns such rows into a Qwen2.5-VL
batch (video tensors, `mm_token_type_ids`, labels on the answer only) for TRL's `SFTTrainer` with
``dataset_kwargs={"skip_prepare_dataset": True}`` and ``remove_unused_columns=False``.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Sequence

import torch

from ...data.qwen2_5_vl_video import Qwen2_5_VLVideoChatProcessor, Qwen2_5_VLVideoProcessor, concat_video_inputs
from ...rewards import INVERSION_TASKS, TASKS, build_inversion_examples, default_lemmatizer, select_target_verb
from .prompts import reference_answer, task_messages

__all__ = ["make_invert_sft_dataset", "Invert4TVGSFTCollator", "SFT_TASK_COLUMN"]

logger = logging.getLogger(__name__)

SFT_TASK_COLUMN = "sft_task"


def make_invert_sft_dataset(dataset, tasks: Sequence[str] = INVERSION_TASKS, lemmatizer=None):
    """`dataset` (grounding rows) repeated once per task of `tasks`, with the task in column `sft_task`.

    Inversion tasks need a verb in the query: rows without one are left out of those tasks, and their number is
    logged as a warning (never silently).
    """
    from datasets import concatenate_datasets

    tasks = list(tasks)
    bad = [t for t in tasks if t not in TASKS]
    if not tasks or bad:
        raise ValueError(f"tasks must be a non-empty subset of {TASKS}, got {tasks}")
    if SFT_TASK_COLUMN in dataset.column_names:
        raise ValueError(f"the dataset already has a {SFT_TASK_COLUMN!r} column")
    lemmatizer = lemmatizer or default_lemmatizer()
    has_verb = [select_target_verb(v) is not None for v in lemmatizer.verb_tokens(list(dataset["query"]))]
    parts = []
    for task in tasks:
        keep = list(range(len(dataset))) if task == "tvg" else [i for i, ok in enumerate(has_verb) if ok]
        if len(keep) < len(dataset):
            logger.warning(
                "Invert-SFT task %r: %d of %d queries have no verb and are left out",
                task,
                len(dataset) - len(keep),
                len(dataset),
            )
        part = dataset.select(keep)
        parts.append(part.add_column(SFT_TASK_COLUMN, [task] * len(part)))
    return concatenate_datasets(parts)


class Invert4TVGSFTCollator:
    """Rows with `sft_task`, `query`, `duration`, `windows`, `video` -> a supervised Qwen2.5-VL batch.

    The prompt is the task's (`task_messages`) over the whole video (TVG) or the first ground-truth window
    (inversion tasks); the target is `reference_answer` followed by the end-of-turn token, the only labelled
    tokens. Returns `input_ids`, `attention_mask`, `labels`, `mm_token_type_ids` (B, L), right-padded, and
    `pixel_values_videos`, `video_grid_thw`, `second_per_grid_ts`.

    `cache_size` keeps that many decoded clips (least recently used dropped), so epochs over a small dataset
    decode each clip once; 0 (default) decodes every time.
    """

    def __init__(
        self,
        tokenizer,
        video_processor: Qwen2_5_VLVideoProcessor,
        lemmatizer=None,
        system_prompt: str | None = None,
        video_root=None,
        end_of_turn: str = "<|im_end|>",
        cache_size: int = 0,
    ):
        self.chat = Qwen2_5_VLVideoChatProcessor(tokenizer, video_processor)
        self.video_processor = video_processor
        self.lemmatizer = lemmatizer or default_lemmatizer()
        self.system_prompt = system_prompt
        self.video_root = video_root
        if tokenizer.convert_tokens_to_ids(end_of_turn) in (None, tokenizer.unk_token_id):
            raise ValueError(f"the tokenizer has no end-of-turn token {end_of_turn!r}")
        self.end_of_turn = end_of_turn
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(f"cache_size must be a non-negative int, got {cache_size!r}")
        self.cache_size = cache_size
        self._cache: OrderedDict = OrderedDict()

    def _video(self, row: dict, start: float, end: float | None) -> dict:
        source = row["video"]
        path = (
            source.get("path")
            if isinstance(source, dict)
            else (os.fspath(source) if isinstance(source, (str, os.PathLike)) else None)
        )
        key = (path, start, end) if path is not None and self.cache_size else None
        if key is not None and key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        try:
            clip = self.video_processor.read_clip(source, start, end, root=self.video_root)
        except ValueError as error:
            raise ValueError(f"row {row.get('qid', '?')}: {error}") from error
        video = self.video_processor.preprocess(clip.frames, clip.fps)
        if key is not None:
            self._cache[key] = video
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return video

    def example(self, row: dict) -> tuple[list[int], list[int], list[int], dict]:
        """(input_ids, mm_token_type_ids, labels, video tensors) of one row."""
        task = row.get(SFT_TASK_COLUMN)
        if task not in TASKS:
            raise ValueError(
                f"row {row.get('qid', '?')}: column {SFT_TASK_COLUMN!r} must be one of {TASKS}, got {task!r}"
            )
        query, windows = row["query"], row["windows"]
        if task == "tvg":
            messages = task_messages("tvg", self.system_prompt, query=query, duration=float(row["duration"]))
            answer = reference_answer("tvg", query, windows=windows)
            start, end = 0.0, None
        else:
            inversion = build_inversion_examples([query], task, self.lemmatizer)[0]
            messages = task_messages(task, self.system_prompt, masked_query=inversion["masked_query"])
            answer = reference_answer(task, query, verb_lemma=inversion["verb_lemma"])
            start, end = float(windows[0][0]), float(windows[0][1])
        video = self._video(row, start, end)
        prompt_ids, prompt_types = self.chat.encode(self.chat.apply_chat_template(messages), video)
        answer_ids = self.chat.tokenizer(answer + self.end_of_turn, add_special_tokens=False)["input_ids"]
        ids = prompt_ids + answer_ids
        return ids, prompt_types + [0] * len(answer_ids), [-100] * len(prompt_ids) + answer_ids, video

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        examples = [self.example(row) for row in rows]
        width = max(len(ids) for ids, _, _, _ in examples)
        pad_id = self.chat.tokenizer.pad_token_id
        batch = {
            "input_ids": torch.full((len(rows), width), pad_id, dtype=torch.long),
            "attention_mask": torch.zeros(len(rows), width, dtype=torch.long),
            "labels": torch.full((len(rows), width), -100, dtype=torch.long),
            "mm_token_type_ids": torch.zeros(len(rows), width, dtype=torch.long),
        }
        for i, (ids, types, labels, _) in enumerate(examples):
            n = len(ids)
            batch["input_ids"][i, :n] = torch.tensor(ids)
            batch["attention_mask"][i, :n] = 1
            batch["labels"][i, :n] = torch.tensor(labels)
            batch["mm_token_type_ids"][i, :n] = torch.tensor(types)
        batch.update(concat_video_inputs([video for _, _, _, video in examples]))
        return batch
