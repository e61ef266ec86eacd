"""`momentzoo quickstart`: train ActionFormer and a tiny ActionVLM on the synthetic TAL set and compare them
(the logic is in `momentzoo.training.quickstart`)."""

__all__ = ["register", "run"]


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
    parser.add_argument("--output_dir", "--output-dir", default="momentzoo-quickstart", help="where to write (default: momentzoo-quickstart)")
    parser.add_argument("--models", nargs="+", default=["actionformer", "actionvlm"],
                        choices=["actionformer", "actionvlm"], help="which models to train (default: both)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data, the models and training (default: 0)")
    parser.add_argument("--actionformer_epochs", "--actionformer-epochs", type=int, default=None,
                        help="default 15 (2 with --fast)")
    parser.add_argument("--actionvlm_epochs", "--actionvlm-epochs", type=int, default=None,
                        help="default 12, half vision-only (2 with --fast)")
    parser.add_argument("--num_threads", "--num-threads", type=int, default=1,
                        help="torch intra-op threads (default: 1; on these small tensors more rarely help)")
    parser.add_argument("--plot_videos", "--plot-videos", type=int, default=4, help="videos in timeline.png (default: 4)")
    parser.add_argument("--fast", action="store_true", help="tiny data and models, 2 epochs (a smoke test)")
    parser.add_argument("--no_progress", "--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..training.quickstart import run_quickstart

    run_quickstart(
        args.output_dir, models=tuple(dict.fromkeys(args.models)), seed=args.seed, fast=args.fast,
        actionformer_epochs=args.actionformer_epochs, actionvlm_epochs=args.actionvlm_epochs,
        num_threads=args.num_threads, plot_videos=args.plot_videos, progress=not args.no_progress,
    )
    return 0
