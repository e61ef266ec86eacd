"""Data arguments shared by the TAL example scripts (`HfArgumentParser` dataclass; YAML keys of the same names)."""

from dataclasses import dataclass, field

__all__ = ["TALDataArguments"]


@dataclass
class TALDataArguments:
    """Where the TAL data comes from, how training crops it and how the final evaluation runs (the `DataArguments`
    of `examples/train_actionformer.py` and `examples/train_actionvlm.py`)."""

    dataset: str = field(
        default="synthetic",
        metadata={"help": "'synthetic', a builder (thumos14, activitynet, epic_kitchens), or a dataset folder / Hub id."},
    )
    dataset_kwargs: dict | str | None = field(
        default=None, metadata={"help": "Synthetic-set fields, builder fields (annotation_file, features_dir, ...) "
                                        "or load_dataset arguments (JSON on the command line)."}
    )
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    eval_split: str | None = field(default="test", metadata={"help": "Split to score at the end (none: skip)."})
    max_seq_len: int | None = field(
        default=None, metadata={"help": "Training crop in feature steps (default: the model's max_seq_len)."}
    )
    trunc_thresh: float = field(default=0.5, metadata={"help": "Keep a cropped action if this fraction is inside."})
    crop_ratio: list[float] | None = field(
        default=None, metadata={"help": "Also crop shorter videos to a random [lo, hi] fraction (ActionFormer: 0.9 1.0)."}
    )
    padding: str = field(default="longest", metadata={"help": "'longest' or 'max_length' (pad to max_seq_len)."})
    eval_window_size: int | None = field(
        default=None, metadata={"help": "Evaluate in sliding windows of this many steps (default: whole videos)."}
    )
    eval_window_overlap: float = field(default=0.25, metadata={"help": "Overlap of consecutive evaluation windows."})
    iou_thresholds: list[float] = field(
        default_factory=lambda: [0.3, 0.4, 0.5, 0.6, 0.7], metadata={"help": "tIoU thresholds of the mAP."}
    )
    max_train_videos: int | None = field(default=None, metadata={"help": "Use only the first N training videos."})
    max_eval_videos: int | None = field(default=None, metadata={"help": "Score only the first N evaluation videos."})
    cache_dir: str | None = field(default=None, metadata={"help": "Cache of dataset builders / load_dataset."})

    def __post_init__(self):
        if self.padding not in ("longest", "max_length"):
            raise ValueError(f"padding must be 'longest' or 'max_length', got {self.padding!r}")
        if not 0 <= self.eval_window_overlap < 1:
            raise ValueError(f"eval_window_overlap must be in [0, 1), got {self.eval_window_overlap!r}")
        if not self.iou_thresholds or any(not 0 < t <= 1 for t in self.iou_thresholds):
            raise ValueError(f"iou_thresholds must be values in (0, 1], got {self.iou_thresholds!r}")
        if self.eval_split in ("", "none", "None"):
            self.eval_split = None
