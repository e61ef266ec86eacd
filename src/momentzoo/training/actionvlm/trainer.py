"""ActionVLM's training schedule: alternating vision-only and vision-language epochs, class-wise vision-only loss
statistics reduced across processes, and per-module learning rates.

    args = LanguageAdvantageTrainingArguments(output_dir="out", num_train_epochs=12)
    trainer = LanguageAdvantageTrainer(model=model, args=args, train_dataset=train,
                                       data_collator=TemporalLocalizationCollator(max_seq_len=768))
    trainer.train()

Epoch `e` is vision-only when `e % vision_only_interval == 0` (interval 2: epochs 0, 2, 4, ... vision-only, the
others vision-language; the first epoch is vision-only so that the statistics exist before the first
vision-language epoch). In a vision-only epoch the model runs with `use_language=False` (the LM is never called)
and the detection losses L_v(l) of the frames of each ground-truth class are accumulated: each sample's mean over
its frames of class c, counted once per sample (Algorithm 1, `config.vision_loss_average="per_sample"`), or every
frame (`"per_frame"`); at the end of the epoch the sums and counts are summed over processes
(`accelerator.reduce`) and stored in the model as L̄_v(c)
(`set_vision_class_statistics`), the reference of the advantage targets A(l) = L̄_v(c) − L_vl(l) of the next
vision-language epochs. Evaluation always runs the full vision-language model.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from transformers import TrainerCallback, TrainingArguments

from ...models.actionvlm.modeling_actionvlm import ActionVLMForTemporalLocalization
from ..trainer import TemporalLocalizationTrainer, TemporalLocalizationTrainingArguments

__all__ = ["LanguageAdvantageTrainingArguments", "LanguageAdvantageTrainer", "LanguageAdvantageCallback"]


@dataclass
class LanguageAdvantageTrainingArguments(TemporalLocalizationTrainingArguments):
    """`TemporalLocalizationTrainingArguments` with the paper's learning rates and the epoch schedule.
    `learning_rate` is the head's (detector, bridges to and from the LM, advantage head, special-token offsets,
    temporal adapters)."""

    learning_rate: float = field(default=1e-4, metadata={"help": "Learning rate of the head and new modules."})
    vision_learning_rate: float = field(default=5e-6, metadata={"help": "Learning rate of the video encoder."})
    language_learning_rate: float = field(
        default=5e-6, metadata={"help": "Learning rate of the language model's LoRA (or full) weights."}
    )
    vision_only_interval: int = field(
        default=2,
        metadata={
            "help": "Epoch e is vision-only when e %% interval == 0 (2: alternate, starting vision-only; "
            "1: every epoch vision-only; 0: never)."
        },
    )
    # Vision-only epochs leave the LM without gradients.
    ddp_find_unused_parameters: bool | None = field(
        default=True, metadata={"help": "Needed under DDP: the LM gets no gradient in vision-only epochs."}
    )

    def __post_init__(self):
        super().__post_init__()
        for name in ("vision_learning_rate", "language_learning_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if (
            isinstance(self.vision_only_interval, bool)
            or not isinstance(self.vision_only_interval, int)
            or self.vision_only_interval < 0
        ):
            raise ValueError(f"vision_only_interval must be an integer >= 0, got {self.vision_only_interval!r}")


class LanguageAdvantageCallback(TrainerCallback):
    """Tells its `LanguageAdvantageTrainer` where epochs begin and end (added by the trainer itself)."""

    def __init__(self, trainer: "LanguageAdvantageTrainer"):
        self.trainer = trainer

    def on_epoch_begin(self, args, state, control, **kwargs):
        # state.epoch is the float epoch reached so far: e at the start of epoch e (e + fraction on resume).
        self.trainer.begin_epoch(int(math.floor((state.epoch or 0.0) + 1e-6)))

    def on_epoch_end(self, args, state, control, **kwargs):
        self.trainer.end_epoch()


class LanguageAdvantageTrainer(TemporalLocalizationTrainer):
    """`Trainer` for [`ActionVLMForTemporalLocalization`] running the paper's alternating schedule (see the module
    docstring) with three learning rates (head, video encoder, LoRA) from `LanguageAdvantageTrainingArguments`
    (plain `TrainingArguments` work too, with the defaults of those fields)."""

    def __init__(self, model=None, args: TrainingArguments | None = None, **kwargs):
        if args is None:
            args = LanguageAdvantageTrainingArguments(output_dir="actionvlm_output")
        super().__init__(model=model, args=args, **kwargs)
        self.current_epoch = 0
        self.vision_only_epoch = self.is_vision_only_epoch(0)
        self.epoch_history: list[str] = []  # "vision" / "vision-language", one entry per epoch begun
        self._loss_sums = self._frame_counts = None
        self._components = defaultdict(float)
        self._component_steps = 0
        self.add_callback(LanguageAdvantageCallback(self))

    # ---------------------------------------------------------------------------------------- schedule
    @property
    def vision_only_interval(self) -> int:
        return int(getattr(self.args, "vision_only_interval", 2))

    def is_vision_only_epoch(self, epoch: int) -> bool:
        interval = self.vision_only_interval
        return interval > 0 and epoch % interval == 0

    def _reset_statistics(self) -> None:
        num_classes = self.model.config.num_classes
        self._loss_sums = torch.zeros(num_classes, dtype=torch.float64, device=self.args.device)
        self._frame_counts = torch.zeros(num_classes, dtype=torch.float64, device=self.args.device)

    def begin_epoch(self, epoch: int) -> None:
        self.current_epoch = epoch
        self.vision_only_epoch = self.is_vision_only_epoch(epoch)
        self.epoch_history.append("vision" if self.vision_only_epoch else "vision-language")
        self._reset_statistics()

    def end_epoch(self) -> None:
        if self.vision_only_epoch and self._loss_sums is not None:
            sums, counts = self.reduce_class_statistics(self._loss_sums, self._frame_counts)
            self.model.set_vision_class_statistics(sums, counts)

    def reduce_class_statistics(self, loss_sums: torch.Tensor, frame_counts: torch.Tensor):
        """Sum the per-class loss sums and frame counts over all processes (one collective for both)."""
        stacked = self.accelerator.reduce(torch.stack([loss_sums, frame_counts]), reduction="sum")
        return stacked[0], stacked[1]

    def accumulate_class_statistics(self, frame_losses: torch.Tensor, frame_classes: torch.Tensor) -> None:
        """Add a batch's per-frame vision-only losses `(B, L)` to the per-class sums (frames outside actions, class
        −1, excluded): per sample, the mean over its frames of each class it contains, counted once
        (`vision_loss_average="per_sample"`, Algorithm 1), or every frame (`"per_frame"`)."""
        if self._loss_sums is None:
            self._reset_statistics()
        num_classes = self._loss_sums.shape[0]
        valid = frame_classes >= 0
        one_hot = torch.nn.functional.one_hot(frame_classes.clamp(min=0), num_classes).double() * valid[..., None]
        one_hot = one_hot.to(self._loss_sums.device)
        sums = torch.einsum("blc,bl->bc", one_hot, frame_losses.detach().double().to(one_hot.device))  # (B, C)
        counts = one_hot.sum(dim=1)
        if self.model.config.vision_loss_average == "per_sample":
            present = counts > 0
            sums = torch.where(present, sums / counts.clamp(min=1), torch.zeros_like(sums))
            counts = present.double()
        self._loss_sums += sums.sum(dim=0)
        self._frame_counts += counts.sum(dim=0)

    # ---------------------------------------------------------------------------------------- loss
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        vision_only = model.training and self.vision_only_epoch
        outputs = model(**inputs, use_language=not vision_only)
        if vision_only and outputs.frame_losses is not None:
            self.accumulate_class_statistics(outputs.frame_losses, outputs.frame_classes)
        if model.training and outputs.loss is not None:
            for name in ("detection_loss", "text_loss", "advantage_loss"):
                value = getattr(outputs, name)
                if value is not None:
                    self._components[name] += float(value.detach())
            if outputs.language_weight is not None:
                real = outputs.frame_mask
                self._components["language_weight"] += float(outputs.language_weight.detach()[real].mean())
            self._component_steps += 1
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs and self._component_steps:
            for name, total in self._components.items():
                logs[name] = round(total / self._component_steps, 6)
            logs["vision_only_epoch"] = float(self.vision_only_epoch)
            self._components.clear()
            self._component_steps = 0
        super().log(logs, *args, **kwargs)

    # ---------------------------------------------------------------------------------------- optimizer
    def create_optimizer(self, model=None):
        opt_model = self.model if model is None else model
        if self.optimizer is None and isinstance(opt_model, ActionVLMForTemporalLocalization):
            args = self.args
            rates = {
                "head": args.learning_rate,
                "vision": getattr(args, "vision_learning_rate", 5e-6),
                "language": getattr(args, "language_learning_rate", 5e-6),
            }
            decay = set(self.get_decay_parameter_names(opt_model))
            groups = []
            for group_name, named in opt_model.parameter_groups().items():
                for with_decay in (True, False):
                    params = [p for n, p in named if (n in decay and "special_token_offsets" not in n) == with_decay]
                    if params:
                        groups.append(
                            {
                                "params": params,
                                "lr": rates[group_name],
                                "group_name": group_name,
                                "weight_decay": args.weight_decay if with_decay else 0.0,
                            }
                        )
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(args, opt_model)
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return super().create_optimizer(model)
