"""Saving a built dataset as a Hub-style folder (Parquet shards + a README dataset card whose YAML
declares the features, so `datasets.load_dataset(folder)` restores `ClassLabel`, `Array2D`, `Video`),
pushing that folder to the Hub, and the command-line plumbing shared by `dataset_scripts/*.py`.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.info import DatasetInfo, DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from datasets.table import embed_table_storage
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData

__all__ = [
    "add_export_arguments",
    "add_feature_arguments",
    "builder_kwargs",
    "push_dataset_folder",
    "run_dataset_script",
    "save_dataset_folder",
    "script_main",
]

_FEATURE_ARGS = (
    "features_dir",
    "feature_prefix",
    "feature_ext",
    "feature_dim",
    "fps",
    "feature_stride",
    "num_frames",
    "resize_length",
    "videos_dir",
    "video_prefix",
    "video_ext",
    "skip_missing",
    "invalid_segments",
)


# A row group holds up to this many bytes of distinct media; within one, equal media bytes are stored once.
_MEDIA_ROW_GROUP_BYTES = 256 * 2**20


def _media_columns(features: datasets.Features) -> list[str]:
    return [name for name, f in features.items() if isinstance(f, (datasets.Video, datasets.Image, datasets.Audio))]


def _media_bytes(ds: datasets.Dataset, columns: list[str]) -> int:
    """Bytes of the distinct media files `ds` references (by path), or embeds."""
    seen, total = set(), 0
    for column in columns:
        for value in ds.data.column(column).to_pylist():
            if not value:
                continue
            key = value.get("path") if value.get("bytes") is None else hash(value["bytes"])
            if key in seen or key is None:
                continue
            seen.add(key)
            total += len(value["bytes"]) if value.get("bytes") is not None else os.path.getsize(value["path"])
    return total


def _write_parquet(table: pa.Table, path: Path, media_columns: list[str]) -> None:
    """`table` as one Parquet file. Media bytes are dictionary-encoded within row groups cut at
    `_MEDIA_ROW_GROUP_BYTES` of distinct media: a video shared by many rows (Charades-STA has several queries per
    video) is stored once, and readers (datasets, pandas, the Hub viewer) decode the dictionary transparently."""
    if not media_columns:
        pq.write_table(table, str(path))
        return
    groups, start, seen, size = [], 0, set(), 0
    for row in range(table.num_rows):
        values = [table.column(c)[row].as_py() or {} for c in media_columns]
        new = [v["bytes"] for v in values if v.get("bytes") is not None and hash(v["bytes"]) not in seen]
        if new and size and size + sum(map(len, new)) > _MEDIA_ROW_GROUP_BYTES:
            groups.append((start, row - start))
            start, seen, size = row, set(), 0
            new = [v["bytes"] for v in values if v.get("bytes") is not None]
        seen.update(hash(b) for b in new)
        size += sum(map(len, new))
    groups.append((start, table.num_rows - start))
    dictionary = [f"{c}.bytes" for c in media_columns]
    with pq.ParquetWriter(
        str(path), table.schema, use_dictionary=dictionary, dictionary_pagesize_limit=2 * _MEDIA_ROW_GROUP_BYTES
    ) as writer:
        for offset, length in groups:
            writer.write_table(table.slice(offset, length), row_group_size=max(length, 1))


def _card_text(
    dd: datasets.DatasetDict, pretty_name: str, description: str, homepage: str, citation: str, command: str | None
) -> str:
    features = next(iter(dd.values())).features
    lines = [f"# {pretty_name}", "", description.strip(), ""]
    if homepage:
        lines += [f"Source: {homepage}", ""]
    lines += ["## Splits", "", "| split | rows |", "|---|---|"]
    lines += [f"| {split} | {ds.num_rows} |" for split, ds in dd.items()]
    lines += ["", "## Columns", ""]
    lines += [f"- `{name}`: `{feature!r}`" for name, feature in features.items()]
    lines += [
        "",
        "Seconds map to feature steps with `momentzoo.segments.seconds_to_feature_grid(t, fps, "
        "feature_stride, num_frames)` when the rows carry features.",
        "",
    ]
    lines += [
        "## Usage",
        "",
        "```python",
        "import datasets",
        "",
        'ds = datasets.load_dataset("<this folder or repo id>")',
        "```",
        "",
    ]
    if command:
        lines += ["## How it was built", "", "```bash", command, "```", ""]
    if citation:
        lines += ["## Citation", "", "```bibtex", citation.strip(), "```", ""]
    return "\n".join(lines)


def save_dataset_folder(
    dataset: datasets.Dataset | datasets.DatasetDict,
    folder: str | os.PathLike,
    *,
    pretty_name: str,
    description: str = "",
    homepage: str = "",
    citation: str = "",
    license: str = "unknown",
    task_categories: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    language: tuple[str, ...] = ("en",),
    command: str | None = None,
    embed_external_files: bool = True,
    max_shard_size: int = 500 * 2**20,
    overwrite: bool = False,
) -> Path:
    """Write `dataset` to `folder` as `data/<split>-NNNNN-of-NNNNN.parquet` plus `README.md`.

    The card's YAML carries `dataset_info.features` and `configs[0].data_files`, exactly what
    `push_to_hub` writes, so the folder loads with `datasets.load_dataset(folder)` (and the same after
    uploading it), and the Hub metadata `license`, `task_categories`, `tags` and `language`. Video/image files
    referenced by path are embedded as bytes, each file once per row group however many rows share it, unless
    `embed_external_files=False` (then the Parquet keeps local paths: fine locally, useless elsewhere).
    The folder is written next to its final place and renamed into it, so a failure leaves nothing half-written.
    """
    dd = dataset if isinstance(dataset, datasets.DatasetDict) else datasets.DatasetDict({"train": dataset})
    if not dd:
        raise ValueError("nothing to save: the DatasetDict has no split")
    features = next(iter(dd.values())).features
    for split, ds in dd.items():
        if ds.features != features:
            raise ValueError(f"split {split!r} has features {ds.features} that differ from the others' {features}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} exists and is not a folder")
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise ValueError(f"{folder} exists and is not empty; pass overwrite=True (--overwrite) to replace it")
        foreign = _not_written_by_us(folder)
        if foreign:
            raise ValueError(
                f"{folder} holds files a dataset export does not write ({', '.join(foreign[:5])}"
                f"{' ...' if len(foreign) > 5 else ''}); --overwrite replaces only a folder of README.md and "
                "data/*.parquet: choose another output folder"
            )
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        (tmp / "data").mkdir()
        split_dict = SplitDict()
        media = _media_columns(features)
        for split, ds in dd.items():
            size = ds.data.nbytes + (_media_bytes(ds, media) if embed_external_files else 0)
            num_shards = max(1, math.ceil(size / max_shard_size))
            for index in range(num_shards):
                shard = ds.shard(num_shards=num_shards, index=index, contiguous=True)
                if embed_external_files and media:
                    shard = shard.with_format("arrow").map(embed_table_storage, batched=True, keep_in_memory=True)
                    shard = shard.with_format(None)
                _write_parquet(
                    shard.data.table, tmp / "data" / f"{split}-{index:05d}-of-{num_shards:05d}.parquet", media
                )
            split_dict.add(SplitInfo(name=split, num_bytes=ds.data.nbytes, num_examples=ds.num_rows))
        card_data = DatasetCardData(
            pretty_name=pretty_name,
            license=license,
            language=list(language),
            task_categories=list(task_categories),
            tags=list(tags) or None,
        )
        info = DatasetInfo(features=features, splits=split_dict)
        DatasetInfosDict({"default": info}).to_dataset_card_data(card_data)
        MetadataConfigs(
            {"default": {"data_files": [{"split": split, "path": f"data/{split}-*"} for split in dd]}}
        ).to_dataset_card_data(card_data)
        body = _card_text(dd, pretty_name, description, homepage, citation, command)
        DatasetCard(f"---\n{card_data.to_yaml()}\n---\n\n{body}").save(tmp / "README.md")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _not_written_by_us(folder: Path) -> list[str]:
    """Entries of `folder` that `save_dataset_folder` does not write (README.md, data/*.parquet)."""
    foreign = []
    for entry in sorted(folder.iterdir()):
        if entry.name == "README.md" and entry.is_file() and not entry.is_symlink():
            continue
        if entry.name == "data" and entry.is_dir() and not entry.is_symlink():
            foreign += [
                f"data/{f.name}"
                for f in sorted(entry.iterdir())
                if not (f.suffix == ".parquet" and f.is_file() and not f.is_symlink())
            ]
            continue
        foreign.append(entry.name)
    return foreign


def _paths_inside(value, folder: Path) -> list[str]:
    """The existing paths among `value` (str, path, or lists/dicts of them) that lie inside `folder`."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in _paths_inside(v, folder)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _paths_inside(v, folder)]
    if isinstance(value, (str, os.PathLike)) and value and os.path.exists(value):
        resolved = Path(value).resolve()
        if resolved == folder or resolved.is_relative_to(folder):
            return [os.fspath(value)]
    return []


def push_dataset_folder(
    folder: str | os.PathLike, repo_id: str, private: bool = False, token: str | None = None
) -> str:
    """Upload a folder written by `save_dataset_folder` to a Hub dataset repo; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    commit = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type="dataset",
        commit_message="Upload dataset built with momentzoo",
    )
    return str(getattr(commit, "commit_url", commit))


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """`output_dir`, `--cache_dir`, `--overwrite`, `--no_embed_videos`, `--push_to_hub REPO_ID`, `--private`."""
    parser.add_argument("output_dir", help="folder to write (Parquet shards under data/ + README.md dataset card)")
    parser.add_argument("--cache_dir", default=None, help="datasets cache for the builder (default: HF cache)")
    parser.add_argument("--overwrite", action="store_true", help="replace output_dir if it exists")
    parser.add_argument(
        "--no_embed_videos", action="store_true", help="keep video paths instead of embedding the bytes"
    )
    parser.add_argument(
        "--push_to_hub", metavar="REPO_ID", default=None, help="also upload the folder to this Hub dataset repo"
    )
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")


def add_feature_arguments(parser: argparse.ArgumentParser, defaults: dict | None = None) -> None:
    """The builder options for features, videos and bad input (see `MomentZooBuilderConfig`).
    Options left unset keep the builder's own default."""
    g = parser.add_argument_group("features, videos and bad input")
    g.add_argument("--features_dir", help="folder of per-video features: <prefix><video_id>.npy/.npz/.pt")
    g.add_argument("--feature_prefix", help="file-name prefix of the feature files (e.g. v_ for ActivityNet)")
    g.add_argument("--feature_ext", choices=[".npy", ".npz", ".pt"], help="feature file extension (default: try all)")
    g.add_argument("--feature_dim", type=int, help="feature dimension D (default: read from the first file)")
    g.add_argument(
        "--fps", type=float, help="frames per second the features were extracted at (default: from annotations)"
    )
    g.add_argument("--feature_stride", type=int, help="frames between feature steps")
    g.add_argument("--num_frames", type=int, help="frames per feature clip")
    g.add_argument("--resize_length", type=int, help="resize every video's features to this many steps")
    g.add_argument("--videos_dir", help="folder of videos: <video_prefix><video_id><video_ext>")
    g.add_argument("--video_prefix", help="file-name prefix of the videos")
    g.add_argument("--video_ext", help="video file extension (default .mp4)")
    g.add_argument(
        "--skip_missing", action="store_true", default=None, help="leave out videos whose file is missing (listed)"
    )
    g.add_argument(
        "--invalid_segments",
        choices=["error", "drop"],
        help="segments starting after the video's end: error or drop (listed)",
    )
    if defaults:
        parser.set_defaults(**defaults)


def builder_kwargs(args: argparse.Namespace, names: tuple[str, ...] = ()) -> dict:
    """The builder keyword arguments among `args` (feature options + `names`), leaving out unset ones."""
    return {k: getattr(args, k) for k in (*_FEATURE_ARGS, *names) if getattr(args, k, None) is not None}


def script_main(main, argv=None) -> int:
    """Run a dataset script's `main(argv)` as a command: a user error (bad input, a file that cannot be read or
    written, the Hub refusing) is one `<script>: error: ...` message on stderr and exit status 1, not a traceback."""
    from ..errors import run_command

    def body() -> None:
        main(argv)  # returns the DatasetDict it wrote, not a status

    return run_command(os.path.basename(sys.argv[0]) or "dataset script", body)


def run_dataset_script(
    builder_cls,
    args: argparse.Namespace,
    kwargs: dict,
    pretty_name: str,
    argv: list[str] | None = None,
    script: str | None = None,
) -> datasets.DatasetDict:
    """Build with `builder_cls(**kwargs)`, save to `args.output_dir`, push if asked; prints what it did. The card's
    license, task categories, tags and language are the builder's; `argv` and `script` (the script's `__file__`)
    are recorded in the card as the command that built it."""
    output = Path(args.output_dir)
    if output.exists() and (not output.is_dir() or any(output.iterdir())) and not args.overwrite:
        raise ValueError(f"{output} exists and is not empty; pass --overwrite to replace it")
    inside = _paths_inside(kwargs, output.resolve())
    if inside:
        raise ValueError(
            f"input(s) {inside} live inside output_dir {args.output_dir}: writing the dataset there would "
            "replace them; choose an output folder outside the inputs"
        )
    builder = builder_cls(cache_dir=args.cache_dir, **kwargs)
    builder.download_and_prepare()
    dd = builder.as_dataset()
    argv = sys.argv[1:] if argv is None else argv
    name = f"dataset_scripts/{os.path.basename(script)}" if script else os.path.basename(sys.argv[0])
    command = "python " + " ".join(shlex.quote(a) for a in [name, *argv])
    doc = (builder_cls.__doc__ or "").strip()
    folder = save_dataset_folder(
        dd,
        args.output_dir,
        pretty_name=pretty_name,
        description=doc,
        homepage=builder_cls.HOMEPAGE,
        citation=builder_cls.CITATION,
        license=builder_cls.LICENSE,
        task_categories=builder_cls.TASK_CATEGORIES,
        tags=builder_cls.TAGS,
        language=builder_cls.LANGUAGE,
        command=command,
        embed_external_files=not args.no_embed_videos,
        overwrite=args.overwrite,
    )
    print(f"wrote {folder}: " + ", ".join(f"{split} {ds.num_rows} rows" for split, ds in dd.items()))
    if args.push_to_hub:
        print(f"pushed to {args.push_to_hub}: {push_dataset_folder(folder, args.push_to_hub, private=args.private)}")
    return dd
