"""Resuming training from a checkpoint folder: refuse one that would resume silently wrong.

`Trainer` restores the optimizer and the learning-rate schedule only when both `optimizer.pt` and `scheduler.pt`
are in the checkpoint; with either missing it starts them afresh, without a word, and the run diverges from the
one it claims to continue (a warm-up replayed at step N, Adam's moments at zero).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["RESUME_FILES", "resolve_resume_checkpoint"]

# What a Trainer checkpoint needs to continue the same run (rng_state*.pth is optional: per-process, and absent
# when the run did not save it; the weights are checked by from_pretrained).
RESUME_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")


def resolve_resume_checkpoint(resume_from_checkpoint, output_dir: str | os.PathLike | None = None) -> str | None:
    """The checkpoint folder `trainer.train(resume_from_checkpoint=...)` will use, checked: `True` (or "true")
    means the last `checkpoint-*` of `output_dir`, as in transformers' examples; `None`/`False` means a fresh run.
    A folder missing any of `RESUME_FILES` is a `ValueError` naming what is missing."""
    from transformers.trainer_utils import get_last_checkpoint

    if resume_from_checkpoint in (None, False, "", "false", "False"):
        return None
    if resume_from_checkpoint in (True, "true", "True"):
        if output_dir is None or not Path(output_dir).is_dir():
            raise ValueError(f"resume_from_checkpoint=True but output_dir {output_dir!r} does not exist")
        last = get_last_checkpoint(os.fspath(output_dir))
        if last is None:
            raise ValueError(f"resume_from_checkpoint=True but {output_dir} holds no checkpoint-* folder")
        resume_from_checkpoint = last
    folder = Path(resume_from_checkpoint)
    if not folder.is_dir():
        raise ValueError(f"resume_from_checkpoint {os.fspath(folder)!r} is not a folder")
    missing = [name for name in RESUME_FILES if not (folder / name).is_file()]
    if missing:
        raise ValueError(
            f"{folder}: cannot resume, {', '.join(missing)} missing (the optimizer and learning-rate "
            "schedule would restart silently); resume from another checkpoint or start a new run"
        )
    return os.fspath(folder)
