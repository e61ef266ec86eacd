"""`Invert4TVGConfig`: TRL's `GRPOConfig` with Invert4TVG's task mixing, video sampling and the paper's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import GRPOConfig

from ...data.qwen2_5_vl_video import Qwen2_5_VLVideoProcessor
from ...rewards import INVERSION_TASKS, TASKS
from ...rewards.inversion_examples import MASKS
from .tasks import TASK_MIXING, Invert4TVGTaskSampler

__all__ = ["Invert4TVGConfig"]


@dataclass
class Invert4TVGConfig(GRPOConfig):
    """`GRPOConfig` with Invert4TVG's task mixing and video sampling, and the paper's optimiser defaults.

    Paper defaults: AdamW with lr 5e-5, betas (0.9, 0.999), eps 1e-8, no weight decay (the last three are
    `TrainingArguments`' defaults), 2 epochs, p = 0.8, 2 fps, ~2.8 M pixels per video. The batch size (4 in
    the paper) and the number of generations are left to the run's config.

    The objective is the paper's GRPO (its Eq. 3-4), not TRL 1.16's defaults (``loss_type="dapo"``, ``beta=0``):
    ``loss_type="grpo"`` averages the clipped token terms over each completion's length, then over the group's
    completions (Eq. 3's 1/G sum_i 1/|o_i| sum_t), and ``beta=0.04`` subtracts beta * D_KL(pi_theta || pi_ref) with
    the k3 estimator pi_ref/pi_theta - log(pi_ref/pi_theta) - 1 per token (Eq. 4), the reference being the
    starting policy. Set ``beta: 0.0`` / ``loss_type: dapo`` for TRL's.
    """

    beta: float = field(
        default=0.04, metadata={"help": "KL coefficient beta of the paper's Eq. 4 (0.04); 0 drops the reference model."}
    )
    loss_type: str = field(
        default="grpo",
        metadata={
            "help": "GRPO loss normalisation: 'grpo' is the paper's Eq. 3; TRL's others (dapo, dr_grpo, ...) work."
        },
    )
    learning_rate: float = field(default=5e-5, metadata={"help": "AdamW learning rate (the paper: 5e-5)."})
    num_train_epochs: float = field(default=2.0, metadata={"help": "Training epochs (the paper: 2)."})
    tvg_probability: float = field(
        default=0.8,
        metadata={
            "help": "p: probability that an iteration (or example) is a TVG one; else an inversion task. "
            "The paper's ablation varies it from 0 to 1; 0.8 is its best."
        },
    )
    task_mixing: str = field(
        default="per_iteration",
        metadata={"help": "'per_iteration' (the paper's Algorithm 1: the whole batch shares a task) or 'per_example'."},
    )
    inversion_tasks: list[str] = field(
        default_factory=lambda: list(INVERSION_TASKS),
        metadata={"help": "Inversion tasks drawn uniformly when an iteration is not TVG: subset of vc, ar, vd."},
    )
    eval_task: str = field(default="tvg", metadata={"help": "Task of every evaluation prompt: tvg, vc, ar or vd."})
    video_fps: float = field(default=2.0, metadata={"help": "Frames sampled per second of video (the paper: 2)."})
    video_min_pixels: int = field(default=16 * 28 * 28, metadata={"help": "Minimum pixels of one frame."})
    video_max_pixels: int = field(default=768 * 28 * 28, metadata={"help": "Maximum pixels of one frame."})
    video_total_pixels: int | None = field(
        default=3584 * 28 * 28,
        metadata={
            "help": "Pixel budget of one video (3584 * 28 * 28 ~ 2.8 M as the paper): at most this / 784 video tokens."
        },
    )
    video_min_frames: int = field(default=4, metadata={"help": "Minimum frames sampled from one clip."})
    video_max_frames: int = field(default=768, metadata={"help": "Maximum frames sampled from one clip."})
    video_root: str | None = field(
        default=None,
        metadata={"help": "Folder that relative `video` paths of the dataset are resolved in (and may not leave)."},
    )
    system_prompt: str | None = field(default=None, metadata={"help": "Optional system message of every prompt."})
    vc_mask: str = field(
        default="all",
        metadata={
            "help": "Verbs a verb-completion prompt masks: 'all' non-auxiliary verbs of the query (the paper) or 'one'."
        },
    )
    tvg_prompt_with_duration: bool = field(
        default=False,
        metadata={"help": "Prepend the video's duration to the TVG prompt (the official template has none)."},
    )

    def __post_init__(self):
        if isinstance(self.inversion_tasks, str):  # from the command line: "vc,ar,vd"
            self.inversion_tasks = [t.strip() for t in self.inversion_tasks.split(",") if t.strip()]
        super().__post_init__()
        # Validate by building what uses the fields: the sampler and the video processor raise naming the field.
        Invert4TVGTaskSampler(self.tvg_probability, self.inversion_tasks, self.task_mixing, self.seed)
        if self.task_mixing not in TASK_MIXING:
            raise ValueError(f"task_mixing must be one of {TASK_MIXING}, got {self.task_mixing!r}")
        if self.vc_mask not in MASKS:
            raise ValueError(f"vc_mask must be one of {MASKS}, got {self.vc_mask!r}")
        if self.eval_task not in TASKS:
            raise ValueError(f"eval_task must be one of {TASKS}, got {self.eval_task!r}")
        self.video_processor_kwargs()
        if self.use_vllm:
            raise ValueError(
                "Invert4TVGTrainer generates with transformers (use_vllm=False): video inputs are not wired to vLLM"
            )
        if self.remove_unused_columns:
            raise ValueError(
                "Invert4TVGTrainer needs every dataset column (query, windows, video, ...): set remove_unused_columns=False"
            )
        if self.use_transformers_continuous_batching:
            raise ValueError(
                "Invert4TVGTrainer does not support use_transformers_continuous_batching (no multimodal inputs)"
            )

    def video_processor_kwargs(self) -> dict:
        kwargs = dict(
            fps=self.video_fps,
            min_pixels=self.video_min_pixels,
            max_pixels=self.video_max_pixels,
            total_pixels=self.video_total_pixels,
            min_frames=self.video_min_frames,
            max_frames=self.video_max_frames,
        )
        Qwen2_5_VLVideoProcessor(**kwargs)  # raises ValueError naming the bad field
        return kwargs
