"""Writing the MLLM descriptions MLLM4WTAL trains with: for every video, the key description D_key (prompt P_key, with
the class list) and the complete description D_complete (prompt P_complete), from any video LLM that answers a
(video, prompt) pair. Answers are appended to a JSONL cache as they come (flushed and synced), so a run that is killed
resumes where it stopped; the finished descriptions become the dataset's `key_description` and
`complete_description` columns.

    describer = QwenVideoDescriber.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct")
    rows = describe_dataset(dataset["val"], describer, "descriptions_val.jsonl", class_names)
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from ...data.qwen2_5_vl_video import Qwen2_5_VLVideoChatProcessor, Qwen2_5_VLVideoProcessor
from .collator import COMPLETE_COLUMN, KEY_COLUMN

__all__ = ["COMPLETE_PROMPT", "KEY_PROMPT", "QwenVideoDescriber", "describe_dataset", "read_description_cache"]

KEY_PROMPT = (
    "This video may show these actions: {classes}. In one or two short sentences, describe the key moments "
    "that identify each action it shows."
)
COMPLETE_PROMPT = (
    "This video may show these actions: {classes}. Describe each action it shows completely, in order, "
    "from how it starts to how it ends."
)


class QwenVideoDescriber:
    """`describer(video, prompt) -> str` with a Qwen2.5-VL model (greedy decoding), its frames read and encoded by
    momentzoo's torchvision-free `Qwen2_5_VLVideoChatProcessor`. `video` is a path or a `Video(decode=False)` dict."""

    def __init__(
        self,
        model,
        tokenizer,
        video_processor: Qwen2_5_VLVideoProcessor | None = None,
        max_new_tokens: int = 128,
        video_root=None,
    ):
        self.model = model.eval()
        self.processor = Qwen2_5_VLVideoChatProcessor(tokenizer, video_processor)
        self.max_new_tokens = max_new_tokens
        self.video_root = video_root

    @classmethod
    def from_pretrained(cls, name_or_path: str, fps: float = 1.0, max_frames: int = 32, **kwargs):
        from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(name_or_path, dtype="auto")
        video_processor = Qwen2_5_VLVideoProcessor.from_model_config(model.config, fps=fps, max_frames=max_frames)
        return cls(model, AutoTokenizer.from_pretrained(name_or_path), video_processor, **kwargs)

    @torch.no_grad()
    def __call__(self, video, prompt: str) -> str:
        clip = self.processor.video_processor.read_clip(video, root=self.video_root)
        messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}]
        inputs = self.processor([self.processor.apply_chat_template(messages)], [clip])
        inputs = {k: v.to(self.model.device) for k, v in inputs.items()}
        output = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        answer = output[0, inputs["input_ids"].shape[1] :]
        return self.processor.tokenizer.decode(answer, skip_special_tokens=True).strip()


def read_description_cache(path) -> dict[str, dict]:
    """`{video_id: {"key_description", "complete_description"}}` of a JSONL cache; a last line cut short by a kill is
    ignored (that video is described again), a malformed line elsewhere is an error naming it."""
    path = Path(path)
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").split("\n")
    done = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            done[str(entry["video_id"])] = {
                KEY_COLUMN: str(entry[KEY_COLUMN]),
                COMPLETE_COLUMN: str(entry[COMPLETE_COLUMN]),
            }
        except (ValueError, KeyError, TypeError):
            if number == len(lines):  # the write a kill interrupted (no trailing newline yet)
                continue
            raise ValueError(f"{path}: line {number} is not a description record: {line[:200]!r}") from None
    return done


def _video_of(row: dict, video_column: str, video_root, extension: str):
    if video_column in row and row[video_column] is not None:
        return row[video_column]
    if video_root is None:
        raise ValueError(f"video {row['video_id']!r}: the dataset has no {video_column!r} column; pass video_root")
    return str(Path(video_root) / f"{row['video_id']}{extension}")


def describe_dataset(
    dataset,
    describer: Callable[[object, str], str],
    cache_file,
    class_names: list[str],
    *,
    video_column: str = "video",
    video_root=None,
    extension: str = ".mp4",
    key_prompt: str = KEY_PROMPT,
    complete_prompt: str = COMPLETE_PROMPT,
    progress: bool = False,
):
    """`dataset` with `key_description` and `complete_description` columns, one per video, written by `describer`.
    Videos already in `cache_file` are not described again. Empty answers are kept (and counted in a warning):
    training reports them by video (`check_weak_dataset`)."""
    classes = ", ".join(class_names)
    prompts = {KEY_COLUMN: key_prompt.format(classes=classes), COMPLETE_COLUMN: complete_prompt.format(classes=classes)}
    done = read_description_cache(cache_file)
    ids = dataset["video_id"]
    if len(set(ids)) != len(ids):
        raise ValueError("describe_dataset: video_id values must be unique")
    todo = [i for i, video_id in enumerate(ids) if video_id not in done]
    rows = (dataset[i] for i in todo)
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(rows, total=len(todo), desc="describe", unit="video")
    Path(cache_file).parent.mkdir(parents=True, exist_ok=True)
    with open(cache_file, "a", encoding="utf-8") as cache:
        for row in rows:
            video = _video_of(row, video_column, video_root, extension)
            entry = {"video_id": row["video_id"]}
            for column, prompt in prompts.items():
                entry[column] = str(describer(video, prompt) or "").strip()
            cache.write(json.dumps(entry) + "\n")
            cache.flush()
            os.fsync(cache.fileno())
            done[row["video_id"]] = entry
    empty = [v for v in ids if not done[v][KEY_COLUMN] or not done[v][COMPLETE_COLUMN]]
    if empty:
        warnings.warn(f"{len(empty)} video(s) got an empty description, e.g. {empty[:5]}", stacklevel=2)
    dataset = dataset.remove_columns([c for c in (KEY_COLUMN, COMPLETE_COLUMN) if c in dataset.column_names])
    dataset = dataset.add_column(KEY_COLUMN, [done[v][KEY_COLUMN] for v in ids])
    return dataset.add_column(COMPLETE_COLUMN, [done[v][COMPLETE_COLUMN] for v in ids])
