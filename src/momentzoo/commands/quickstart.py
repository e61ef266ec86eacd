"""`momentzoo quickstart`: train ActionFormer and a tiny ActionVLM on the synthetic feature-level TAL set, score both
with `tal_map`, and write checkpoints with their cards, predictions, metrics and a timeline plot.

    from momentzoo.commands.quickstart import run_quickstart
    summary = run_quickstart("momentzoo-quickstart")

The synthetic set (`momentzoo.data.make_synthetic_tal_dataset`) has 8 classes; each action is a program of three
phases, and two pairs of classes (open / close door, pick up / put down cup) use the same phases in opposite
order, so only temporal order tells them apart. ActionFormer is trained with `TemporalLocalizationTrainer`; ActionVLM (the same
detection head, a 2-layer Qwen2 of width 32 with a locally trained tokenizer as its language model, class
descriptions in the prompt) with `LanguageAdvantageTrainer`'s alternating vision-only / vision-language epochs.
Both start from scratch with the same seed, data and head. The language model is random and tiny, so ActionVLM's
numbers here show the mechanism at work (λ_lang per class, the alternating schedule), not the paper's gains, which
come from a pretrained VLM. Everything runs on a CPU; `fast=True` shrinks every size for tests.

Outputs in `output_dir`: `actionformer/` and `actionvlm/` (checkpoints, each with its model card and results),
`predictions/<model>.json` and `ground_truth.json` (the files `momentzoo evaluate` reads), `metrics.json` and
`timeline.png` (ground truth against each model's detections for a few test videos).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

__all__ = ["QuickstartConfig", "run_quickstart", "QUICKSTART_MODELS", "register", "run"]

# The synthetic set: as the generator's defaults, with shorter videos so the LM's sequence (4 tokens per step plus
# the prompt) stays short on a CPU, and 80 test videos for a steadier mAP.
QUICKSTART_DATA = dict(
    num_classes=8,
    num_confusable_pairs=2,
    feature_dim=64,
    min_length=96,
    max_length=192,
    num_videos={"train": 160, "test": 80},
    seed=0,
)
# A small ActionFormer head: 6 pyramid levels (strides 1-32) for actions of 6-64 steps.
QUICKSTART_HEAD = dict(
    max_seq_len=192,
    hidden_size=64,
    head_hidden_size=64,
    num_attention_heads=4,
    attention_window_size=9,
    num_stem_layers=1,
    num_downsample_layers=5,
    hidden_dropout=0.0,
    drop_path_rate=0.0,
)
# Everything smaller, for tests.
FAST_DATA = dict(
    num_classes=4,
    num_confusable_pairs=1,
    feature_dim=16,
    min_length=48,
    max_length=64,
    min_action_length=4,
    max_action_length=24,
    max_actions_per_video=3,
    num_videos={"train": 16, "test": 6},
    seed=0,
)
FAST_HEAD = dict(
    max_seq_len=64,
    hidden_size=16,
    head_hidden_size=16,
    num_attention_heads=2,
    attention_window_size=5,
    num_stem_layers=1,
    num_downsample_layers=3,
    regression_ranges=[[0, 4], [4, 8], [8, 16], [16, 10000]],
    hidden_dropout=0.0,
    drop_path_rate=0.0,
)


@dataclass
class QuickstartConfig:
    """Settings of the quickstart run (`fast=True` swaps in the tiny sizes and fewer epochs)."""

    output_dir: str = "momentzoo-quickstart"
    seed: int = 0
    fast: bool = False
    models: tuple[str, ...] = ("actionformer", "actionvlm")
    actionformer_epochs: int | None = None  # default 15 (fast: 2)
    actionvlm_epochs: int | None = None  # default 12, alternating vision-only / vision-language (fast: 2)
    batch_size: int = 8
    learning_rate: float = 1e-3
    language_model_hidden_size: int | None = None  # default 32 (fast: 16)
    language_model_layers: int | None = None  # default 2 (fast: 1)
    num_threads: int = 1  # intra-op threads: more cost more than they give on these small tensors
    plot_videos: int = 4
    progress: bool = True
    data: dict = field(default_factory=dict)  # SyntheticTALConfig overrides on top of the defaults

    def __post_init__(self):
        unknown = set(self.models) - set(QUICKSTART_MODELS)
        if unknown or not self.models:
            raise ValueError(
                f"models must be a non-empty subset of {sorted(QUICKSTART_MODELS)}, got {list(self.models)}"
            )
        for name in ("actionformer_epochs", "actionvlm_epochs", "language_model_hidden_size", "language_model_layers"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("batch_size", "num_threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.plot_videos, bool) or not isinstance(self.plot_videos, int) or self.plot_videos < 0:
            raise ValueError(f"plot_videos must be an integer >= 0, got {self.plot_videos!r}")
        if not (
            isinstance(self.learning_rate, (int, float))
            and math.isfinite(self.learning_rate)
            and self.learning_rate > 0
        ):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")

    @property
    def data_kwargs(self) -> dict:
        return {**(FAST_DATA if self.fast else QUICKSTART_DATA), **self.data}

    @property
    def head(self) -> dict:
        return dict(FAST_HEAD if self.fast else QUICKSTART_HEAD)

    def epochs(self, model: str) -> int:
        given = getattr(self, f"{model}_epochs")
        return given if given is not None else (2 if self.fast else {"actionformer": 15, "actionvlm": 12}[model])


def _training_arguments(config: QuickstartConfig, folder: str, epochs: int, cls=None, **extra):
    from transformers import TrainingArguments

    cls = cls or TrainingArguments
    return cls(
        output_dir=folder,
        num_train_epochs=epochs,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        weight_decay=0.05,
        lr_scheduler_type="cosine",
        warmup_steps=0.1,
        max_grad_norm=1.0,
        logging_strategy="epoch",
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=config.seed,
        data_seed=config.seed,
        disable_tqdm=not config.progress,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        **extra,
    )


def _train_actionformer(config: QuickstartConfig, train, work: str):
    from transformers import set_seed

    from ..data import TemporalFeatureDataset, TemporalLocalizationCollator
    from ..models.actionformer import ActionFormerConfig, ActionFormerForTemporalLocalization
    from ..training.tal_script import dataset_config_fields
    from ..training.trainer import TemporalLocalizationTrainer

    set_seed(config.seed)
    model = ActionFormerForTemporalLocalization(ActionFormerConfig(**dataset_config_fields(train, config.head)))
    collator = TemporalLocalizationCollator(max_seq_len=model.config.max_seq_len, training=True)
    trainer = TemporalLocalizationTrainer(
        model=model,
        args=_training_arguments(config, work, config.epochs("actionformer")),
        train_dataset=TemporalFeatureDataset(train),
        data_collator=collator,
    )
    result = trainer.train()
    return model.eval(), {
        "train_loss": result.training_loss,
        "epochs": config.epochs("actionformer"),
        "schedule": ["vision"] * config.epochs("actionformer"),
    }


def _train_actionvlm(config: QuickstartConfig, train, work: str, metadata: dict):
    from transformers import set_seed

    from ..data import TemporalFeatureDataset, TemporalLocalizationCollator
    from ..models.actionvlm import ActionVLMForTemporalLocalization
    from ..testing import tiny_qwen2
    from ..training.actionvlm import LanguageAdvantageTrainer, LanguageAdvantageTrainingArguments
    from ..training.tal_script import dataset_config_fields

    set_seed(config.seed)
    hidden = config.language_model_hidden_size or (16 if config.fast else 32)
    layers = config.language_model_layers or (1 if config.fast else 2)
    language_model, tokenizer = tiny_qwen2(hidden_size=hidden, num_layers=layers)
    backbone = os.path.join(work, "tiny-qwen2")
    language_model.save_pretrained(backbone)
    tokenizer.save_pretrained(backbone)
    fields = dataset_config_fields(train, config.head)
    set_seed(config.seed)
    model = ActionVLMForTemporalLocalization.from_backbones(
        backbone,
        class_descriptions=metadata["class_descriptions"],
        language_tuning="full",
        **fields,
    )
    epochs = config.epochs("actionvlm")
    args = _training_arguments(
        config,
        os.path.join(work, "actionvlm"),
        epochs,
        cls=LanguageAdvantageTrainingArguments,
        language_learning_rate=config.learning_rate,
        vision_only_interval=2,
    )
    collator = TemporalLocalizationCollator(max_seq_len=model.config.max_seq_len, training=True)
    trainer = LanguageAdvantageTrainer(
        model=model, args=args, train_dataset=TemporalFeatureDataset(train), data_collator=collator
    )
    result = trainer.train()
    return model.eval(), {"train_loss": result.training_loss, "epochs": epochs, "schedule": trainer.epoch_history}


# name -> (display name, trainer); a new model for the quickstart adds one entry.
QUICKSTART_MODELS = {
    "actionformer": ("ActionFormer", _train_actionformer),
    "actionvlm": ("ActionVLM", _train_actionvlm),
}


def _language_weights(model, test, confusable: list[int], class_names: list[str]) -> dict:
    """Mean λ_lang over the ground-truth frames of the order-confusable classes and of the others, and per class."""
    from ..training.actionvlm.modality_bias import mean_language_advantage, predict_with_language_weights

    found = predict_with_language_weights(model, test)
    sums, counts = found["weight_sums"], found["frame_counts"]
    others = [c for c in range(len(class_names)) if c not in confusable]

    def mean(classes):
        total = float(counts[classes].sum()) if classes else 0.0
        return float(sums[classes].sum()) / total if total > 0 else math.nan

    return {
        "order_confusable": mean(confusable),
        "other": mean(others),
        "per_class": mean_language_advantage(sums, counts, class_names),
    }


def _plot_timeline(
    path: Path, test, predictions: dict[str, dict], class_names: list[str], confusable: set[str], count: int
) -> list[str]:
    """Ground truth against each model's detections for `count` test videos (those with an order-confusable action
    first); each model's detections are its top ones, as many as twice the ground truth, opacity 0.2 + 0.8 * score."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = test.select_columns(["video_id", "duration", "segments", "labels"])
    order = sorted(range(len(rows)), key=lambda i: not any(class_names[c] in confusable for c in rows[i]["labels"]))
    chosen = order[:count]
    colors = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(class_names)}
    tracks = ["ground truth", *predictions]
    figure, axes = plt.subplots(len(chosen), 1, figsize=(11, 1.0 + 0.55 * len(tracks) * len(chosen)), squeeze=False)
    for axis, index in zip(axes[:, 0], chosen):
        row = rows[index]
        truth = [{"segment": s, "label": class_names[c], "score": 1.0} for s, c in zip(row["segments"], row["labels"])]
        for level, track in enumerate(tracks):
            items = truth if track == "ground truth" else predictions[track].get(row["video_id"], [])[: 2 * len(truth)]
            y = len(tracks) - 1 - level
            for item in items:
                start, end = item["segment"]
                axis.barh(
                    y,
                    end - start,
                    left=start,
                    height=0.7,
                    color=colors[item["label"]],
                    alpha=0.2 + 0.8 * min(1.0, max(0.0, float(item["score"]))),
                    edgecolor="black",
                    linewidth=0.4,
                )
        axis.set_yticks(range(len(tracks)), list(reversed(tracks)))
        axis.set_xlim(0, float(row["duration"]))
        axis.set_title(row["video_id"], fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    handles = [Patch(color=colors[n], label=n + (" *" if n in confusable else "")) for n in class_names]
    figure.legend(
        handles=handles,
        loc="lower center",
        ncol=min(4, len(handles)),
        fontsize=8,
        frameon=False,
        title="* order-confusable (same phases, opposite order); prediction opacity = score",
        title_fontsize=8,
    )
    figure.tight_layout(rect=(0, 0.06 + 0.03 * math.ceil(len(handles) / 4), 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return [rows[i]["video_id"] for i in chosen]


def _finite(value):
    """`value` with NaN/inf replaced by None (strict JSON)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_quickstart(output_dir: str | os.PathLike | None = None, **kwargs) -> dict:
    """Run the quickstart (see the module docstring); `kwargs` are `QuickstartConfig` fields. Prints the results
    table and returns the summary written to `metrics.json`."""
    config = QuickstartConfig(**({"output_dir": str(output_dir)} if output_dir is not None else {}), **kwargs)
    from ..data import make_synthetic_tal_dataset, synthetic_tal_metadata
    from ..hub import save_model_card
    from ..training.tal import evaluate_tal, format_map_table, write_predictions_json, write_references_json

    wall, cpu = time.perf_counter(), time.process_time()
    threads = torch.get_num_threads()
    torch.set_num_threads(config.num_threads)
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    try:
        data = make_synthetic_tal_dataset(**config.data_kwargs)
        metadata = synthetic_tal_metadata(data)
        train, test = data["train"], data["test"]
        class_names = metadata["class_names"]
        confusable = sorted({c for pair in metadata["confusable_pairs"] for c in pair})
        print(
            f"momentzoo quickstart: synthetic TAL set, {len(class_names)} classes ({len(confusable)} in "
            f"order-confusable pairs), {len(train)} training and {len(test)} test videos -> {output}"
        )
        write_references_json(test, output / "ground_truth.json", subset="test")

        results, predictions, timings, training = {}, {}, {}, {}
        language = None
        with tempfile.TemporaryDirectory(prefix="momentzoo-quickstart-") as work:
            for key in config.models:
                name, train_model = QUICKSTART_MODELS[key]
                print(f"\n[{name}] training {config.epochs(key)} epochs")
                started = time.perf_counter()
                if key == "actionvlm":
                    model, training[name] = train_model(config, train, work, metadata)
                else:
                    model, training[name] = train_model(config, train, os.path.join(work, key))
                metrics, predictions[name] = evaluate_tal(
                    model, test, batch_size=config.batch_size, progress=config.progress
                )
                results[name] = metrics
                summary = {k: v for k, v in metrics.items() if k != "per_class_AP"}
                if key == "actionvlm":
                    language = _language_weights(model, test, confusable, class_names)
                    summary["mean_language_weight_order_confusable"] = language["order_confusable"]
                    summary["mean_language_weight_other"] = language["other"]
                timings[name] = time.perf_counter() - started
                folder = output / key
                model.save_pretrained(folder)
                save_model_card(
                    model,
                    folder,
                    **{**model.model_card_kwargs(), "model_id": str(folder)},
                    datasets=["momentzoo-synthetic-tal"],
                    results={k: v for k, v in summary.items() if math.isfinite(v)},
                    training_details=(
                        f"`momentzoo quickstart`: {training[name]['epochs']} epochs "
                        f"({', '.join(training[name]['schedule'])}) on {len(train)} synthetic videos "
                        f"(seed {config.seed}); evaluated on {len(test)} test videos."
                    ),
                )
                write_predictions_json(predictions[name], output / "predictions" / f"{key}.json")
        plotted = (
            _plot_timeline(
                output / "timeline.png",
                test,
                predictions,
                class_names,
                {class_names[c] for c in confusable},
                config.plot_videos,
            )
            if config.plot_videos
            else []
        )
    finally:
        torch.set_num_threads(threads)

    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    summary = {
        "models": {name: {**{k: v for k, v in m.items()}, **training[name]} for name, m in results.items()},
        "language_weight": language,
        "classes": class_names,
        "order_confusable_classes": [class_names[c] for c in confusable],
        "timeline_videos": plotted,
        "seconds": {"wall": wall, "cpu": cpu, **{f"{k}_wall": v for k, v in timings.items()}},
        "config": {
            "data": config.data_kwargs,
            "head": config.head,
            "seed": config.seed,
            "epochs": {k: config.epochs(k) for k in config.models},
        },
    }
    (output / "metrics.json").write_text(json.dumps(_finite(summary), indent=1))

    print(f"\ntal_map on the synthetic test set ({len(test)} videos), mAP in %:")
    print(format_map_table(results))
    if language is not None:
        names = ", ".join(class_names[c] for c in confusable)
        print(
            f"\nActionVLM mean language weight λ_lang on ground-truth frames:\n"
            f"  order-confusable classes ({names}): {language['order_confusable']:.4f}\n"
            f"  other classes: {language['other']:.4f}"
        )
    print(f"\nwrote {', '.join(sorted(p.name for p in output.iterdir()))} to {output}")
    print(f"time: {wall:.0f} s wall, {cpu:.0f} s CPU ({config.num_threads} torch thread(s))")
    return summary


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "quickstart",
        help="train ActionFormer and a tiny ActionVLM on synthetic data, evaluate, plot (CPU, a few minutes)",
        description=(
            "Train ActionFormer and a tiny ActionVLM (alternating vision-only / vision-language epochs) on momentzoo's "
            "synthetic feature-level TAL set, score both with tal_map, print per-threshold mAP and ActionVLM's mean "
            "language weight on the order-confusable classes against the rest, and write both checkpoints with "
            "their model cards, the predictions (ActionFormer/OpenTAD JSON), metrics.json and timeline.png into "
            "OUTPUT_DIR. Runs on a CPU."
        ),
    )
    parser.add_argument(
        "--output_dir", default="momentzoo-quickstart", help="where to write (default: momentzoo-quickstart)"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=["actionformer", "actionvlm"],
        choices=["actionformer", "actionvlm"],
        help="which models to train (default: both)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data, the models and training (default: 0)")
    parser.add_argument("--actionformer_epochs", type=int, default=None, help="default 15 (2 with --fast)")
    parser.add_argument(
        "--actionvlm_epochs", type=int, default=None, help="default 12, half vision-only (2 with --fast)"
    )
    parser.add_argument(
        "--num_threads",
        type=int,
        default=1,
        help="torch intra-op threads (default: 1; on these small tensors more rarely help)",
    )
    parser.add_argument("--plot_videos", type=int, default=4, help="videos in timeline.png (default: 4)")
    parser.add_argument("--fast", action="store_true", help="tiny data and models, 2 epochs (a smoke test)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args) -> int:
    run_quickstart(
        args.output_dir,
        models=tuple(dict.fromkeys(args.models)),
        seed=args.seed,
        fast=args.fast,
        actionformer_epochs=args.actionformer_epochs,
        actionvlm_epochs=args.actionvlm_epochs,
        num_threads=args.num_threads,
        plot_videos=args.plot_videos,
        progress=not args.no_progress,
    )
    return 0
