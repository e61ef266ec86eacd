"""`momentzoo push`: upload a saved checkpoint folder to the Hub with its rendered model card."""

import math

from ..strict_json import load_json_strict
from ..training.tal_script import DefaultsOnceHelpFormatter

__all__ = ["read_results", "register", "run"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "push",
        help="upload a checkpoint folder (save_pretrained) to the Hub with its model card",
        description=(
            "Create REPO_ID if needed and upload CHECKPOINT (a folder written by save_pretrained). The model card "
            "(README.md) is rendered from the model family's template when the folder has none or when any card "
            "option below is given; otherwise the folder's README.md is uploaded as it is. The endpoint and token "
            "come from HF_ENDPOINT and HF_TOKEN (or `hf auth login`) unless given."
        ),
        formatter_class=DefaultsOnceHelpFormatter,
    )
    parser.add_argument("checkpoint", help="folder with config.json and the safetensors weights")
    parser.add_argument("repo_id", help="Hub repository, 'org/name' (or 'name' in your own namespace)")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--revision", default=None, help="branch to push to (default: main)")
    parser.add_argument("--create_pr", action="store_true", help="open a pull request instead of committing")
    parser.add_argument("--commit_message", default="Upload momentzoo checkpoint")
    parser.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the stored login)")
    parser.add_argument("--endpoint", default=None, help="Hub endpoint (default: HF_ENDPOINT or huggingface.co)")
    card = parser.add_argument_group("model card (any of these re-renders README.md)")
    card.add_argument("--dataset", action="append", default=None, help="training/evaluation dataset id (repeatable)")
    card.add_argument("--base_model", action="append", default=None, help="backbone hub id (repeatable)")
    card.add_argument(
        "--results",
        default=None,
        help="JSON file of metrics, e.g. the output of `momentzoo evaluate`: its top-level numbers "
        "are reported as measured on the first --dataset",
    )
    card.add_argument("--license", default=None, help="license id (default: apache-2.0)")
    card.add_argument("--tag", action="append", default=None, help="extra Hub tag (repeatable)")
    parser.set_defaults(func=run)


def read_results(path: str) -> dict[str, float]:
    """The top-level finite numbers of a JSON object (nested tables such as per-class AP stay out of the card)."""
    try:
        data = load_json_strict(path)
    except ValueError as err:
        raise ValueError(f"--results {path}: cannot read a JSON object ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"--results {path}: expected a JSON object of metric -> value, got {type(data).__name__}")
    results = {
        k: float(v)
        for k, v in data.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }
    if not results:
        raise ValueError(f"--results {path}: no top-level numeric metric in {sorted(data)}")
    return results


def run(args) -> int:
    from ..hub import push_to_hub

    card_kwargs = {}
    if args.dataset:
        card_kwargs["datasets"] = args.dataset
    if args.base_model:
        card_kwargs["base_model"] = args.base_model
    if args.results:
        card_kwargs["results"] = read_results(args.results)
    if args.license:
        card_kwargs["license"] = args.license
    if args.tag:
        card_kwargs["tags"] = args.tag
    commit = push_to_hub(
        args.checkpoint,
        args.repo_id,
        token=args.token,
        private=args.private or None,
        revision=args.revision,
        create_pr=args.create_pr,
        commit_message=args.commit_message,
        card_kwargs=card_kwargs or None,
        endpoint=args.endpoint,
    )
    print(commit.pr_url or commit.commit_url)
    return 0
