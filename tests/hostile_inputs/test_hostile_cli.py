"""Hostile command lines: every momentzoo command and dataset script answers a user error with one line on stderr
naming the file or argument and a non-zero exit status, never a traceback. Builders raise a ValueError naming the
file and row for malformed rows."""

import contextlib
import io
import os
import runpy
from pathlib import Path

import pytest
from data_builder_helpers import EPIC, THUMOS_MINI, build

from momentzoo.cli import main
from momentzoo.commands.evaluate import EXAMPLE_DIR
from momentzoo.data.builders import CharadesSTABuilder, EpicKitchensBuilder
from momentzoo.data.export import script_main

REPO = Path(__file__).resolve().parents[2]
GT, PRED = EXAMPLE_DIR / "ground_truth.json", EXAMPLE_DIR / "predictions.json"


def _run(command, argv):
    """(exit status, stderr) of `momentzoo <argv>` or of a dataset script's `__main__`, in this process."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            if command == "momentzoo":
                status = main([str(a) for a in argv])
            else:
                status = script_main(
                    runpy.run_path(str(REPO / "dataset_scripts" / f"{command}.py"))["main"], [str(a) for a in argv]
                )
        except SystemExit as exit_:  # argparse's own usage errors
            status = exit_.code
    return status, err.getvalue()


def _one_line_error(status, stderr, *names, code=1):
    assert status == code, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if ": error: " in line]  # progress bars may come before
    assert len(lines) == 1, stderr
    for name in names:
        assert str(name) in lines[0], (name, lines[0])


def test_momentzoo_without_arguments_exits_2():
    status, stderr = _run("momentzoo", [])
    assert status == 2 and "usage: momentzoo" in stderr


@pytest.mark.parametrize("case", ["missing", "bad_json", "not_utf8", "duplicate", "read_only_output"])
def test_evaluate_user_errors(tmp_path, case):
    pred = tmp_path / "pred.json"
    out = None
    if case == "missing":
        pred = tmp_path / "missing.json"
    elif case == "bad_json":
        pred.write_text('{"results": ')
    elif case == "not_utf8":
        pred.write_bytes(b'{"results": {"\xff": []}}')
    elif case == "duplicate":
        pred.write_text('{"results": {"a": [], "a": []}}')
    else:
        pred = PRED
        (tmp_path / "ro").mkdir()
        os.chmod(tmp_path / "ro", 0o500)
        out = tmp_path / "ro" / "metrics.json"
        if os.access(tmp_path / "ro", os.W_OK):  # running as root: permissions do not bind
            pytest.skip("a read-only folder is writable by this user")
    argv = ["evaluate", "--references", GT, "--predictions", pred, "--subset", "test"]
    status, stderr = _run("momentzoo", argv + (["--output", out] if out else []))
    _one_line_error(status, stderr, out or pred)


def test_evaluate_output_into_a_file_path_that_is_a_folder(tmp_path):
    status, stderr = _run(
        "momentzoo", ["evaluate", "--references", GT, "--predictions", PRED, "--subset", "test", "--output", tmp_path]
    )
    _one_line_error(status, stderr, tmp_path, "momentzoo evaluate: error")


@pytest.mark.parametrize(
    "argv, names",
    [
        (["push", "{tmp}/nowhere", "org/name"], ["nowhere", "no such checkpoint folder"]),
        (["push", "{ckpt}", "a/b/c"], ["invalid repo id 'a/b/c'"]),
        (["push", "{ckpt}", "tester/offline"], ["momentzoo push: error", "offline"]),
        (["push", "{ckpt}", "org/name", "--results", "{tmp}/missing.json"], ["--results", "missing.json"]),
    ],
)
def test_push_user_errors(tmp_path, argv, names):
    from tiny_models import TinyDetectorConfig, TinyDetectorForTemporalLocalization, register_tiny_models

    register_tiny_models()
    TinyDetectorForTemporalLocalization(TinyDetectorConfig()).save_pretrained(tmp_path / "ckpt")
    argv = [a.format(tmp=tmp_path, ckpt=tmp_path / "ckpt") for a in argv]
    status, stderr = _run("momentzoo", argv)  # HF_HUB_OFFLINE=1 in the tests: the Hub is unreachable
    _one_line_error(status, stderr, *names)


@pytest.mark.parametrize(
    "argv, names, code",
    [
        (["extract-features", "{tmp}", "{tmp}/out", "--model", "m", "--device", "gpu9"], ["--device 'gpu9'"], 2),
        (
            ["extract-features", "{tmp}", "{tmp}/out", "--model", "m", "--device", "cuda:0"],
            ["CUDA is not available"],
            2,
        ),
        (
            ["extract-features", "{tmp}/none", "{tmp}/out", "--model", "m", "--device", "cpu"],
            ["none: no such video"],
            2,
        ),
        (["extract-features", "{tmp}", "{tmp}/out", "--model", "{tmp}/no-model", "--device", "cpu"], ["no-model"], 1),
    ],
)
def test_extract_features_user_errors(tmp_path, argv, names, code):
    import torch

    if torch.cuda.is_available() and "cuda:0" in argv:
        pytest.skip("CUDA is available here")
    status, stderr = _run("momentzoo", [a.format(tmp=tmp_path) for a in argv])
    _one_line_error(status, stderr, *names, code=code)


@pytest.mark.parametrize(
    "script, argv, names",
    [
        ("thumos14", ["{tmp}/missing.json", "{tmp}/out"], ["missing.json"]),
        ("thumos14", ["{bad}", "{tmp}/out"], ["bad.json", "not valid JSON"]),
        ("thumos14", ["{mini}", "{tmp}/exists"], ["exists", "exists and is not empty"]),
        ("activitynet", ["{tmp}/missing.json", "{tmp}/out"], ["missing.json"]),
        ("charades_sta", ["--train", "{tmp}/missing.jsonl", "{tmp}/out"], ["missing.jsonl"]),
        ("qvhighlights", ["--val", "{tmp}/missing.jsonl", "{tmp}/out"], ["missing.jsonl"]),
        (
            "epic_kitchens",
            ["verb", "--train", "{tmp}/missing.csv", "--video_info", "{tmp}/missing.csv", "{tmp}/out"],
            ["missing.csv"],
        ),
        ("thumos14_weak", ["{tmp}/no-layout", "{tmp}/out"], ["no-layout"]),
        ("thumos14", ["{mini}", "{tmp}/out", "--push_to_hub", "tester/x", "--cache_dir", "{tmp}/c"], ["offline"]),
    ],
)
def test_dataset_scripts_user_errors(tmp_path, script, argv, names):
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "exists").mkdir()
    (tmp_path / "exists" / "something").write_text("x")
    argv = [a.format(tmp=tmp_path, bad=tmp_path / "bad.json", mini=THUMOS_MINI) for a in argv]
    status, stderr = _run(script, argv)
    _one_line_error(status, stderr, *names)


def test_read_only_output_folder_is_one_line(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    os.chmod(parent, 0o500)
    if os.access(parent, os.W_OK):
        pytest.skip("a read-only folder is writable by this user (root)")
    status, stderr = _run("thumos14", [THUMOS_MINI, parent / "out", "--cache_dir", tmp_path / "c"])
    _one_line_error(status, stderr, "ro")


# --- builders: malformed rows ------------------------------------------------------------------------------------
def test_epic_short_and_long_csv_rows_name_the_line(tmp_path):
    info = tmp_path / "info.csv"
    info.write_text("video_id,duration,fps\nP01_01,329.48\nP01_02,10,30,extra\n")
    with pytest.raises(ValueError, match=r"(?s)info.csv: 2 row\(s\) with the wrong number of cells.*line 2.*line 3"):
        build(
            EpicKitchensBuilder,
            tmp_path,
            config_name="verb",
            video_info_file=str(info),
            data_files={"train": str(EPIC / "EPIC_100_train_mini.csv")},
        )


@pytest.mark.parametrize(
    "builder, kwargs_of",
    [
        (CharadesSTABuilder, lambda p: {"data_files": {"train": str(p)}}),
        (
            CharadesSTABuilder,
            lambda p: {
                "config_name": "txt",
                "data_files": {"train": str(p)},
                "durations_file": str(REPO / "tests/fixtures/data/charades_sta/Charades_v1_mini.csv"),
            },
        ),
    ],
)
def test_non_utf8_annotation_files_are_named(tmp_path, builder, kwargs_of):
    path = tmp_path / "latin1.txt"
    path.write_bytes('{"qid": 1, "query": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.txt: not UTF-8 text"):
        build(builder, tmp_path, **kwargs_of(path))


@pytest.mark.parametrize("code", ["ENOSPC", "EROFS", "EACCES"])
def test_full_or_read_only_disk_is_one_line(tmp_path, monkeypatch, code):
    import errno

    number = getattr(errno, code)

    def refuse(self, *args, **kwargs):
        raise OSError(number, os.strerror(number), str(self))

    monkeypatch.setattr(Path, "write_text", refuse)  # where `momentzoo evaluate --output` writes
    out = tmp_path / "metrics.json"
    status, stderr = _run(
        "momentzoo", ["evaluate", "--references", GT, "--predictions", PRED, "--subset", "test", "--output", out]
    )
    _one_line_error(status, stderr, f"{out}: {os.strerror(number)}")


def test_charades_durations_csv_short_row_and_encoding_name_the_file(tmp_path):
    queries = tmp_path / "q.txt"
    queries.write_text("OHOFG 1.0 7.5##a person opens a door\n")
    durations = tmp_path / "durations.csv"
    durations.write_text("id,length\nOHOFG\n")
    with pytest.raises(ValueError, match=r"(?s)durations.csv: line 2: bad length None"):
        build(
            CharadesSTABuilder,
            tmp_path,
            config_name="txt",
            data_files={"test": str(queries)},
            durations_file=str(durations),
        )
    durations.write_bytes("id,length\nOHOFG,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="durations.csv: not UTF-8 text"):
        build(
            CharadesSTABuilder,
            tmp_path / "b",
            config_name="txt",
            data_files={"test": str(queries)},
            durations_file=str(durations),
        )


def test_weak_ambiguous_file_not_utf8_is_named(tmp_path):
    from data_builder_helpers import write_weak_layout

    from momentzoo.data.builders import Thumos14WeakBuilder

    layout = write_weak_layout(tmp_path / "layout")
    (layout / "Ambiguous_test.txt").write_bytes("video_test_0000004 1.0 2.0 caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="Ambiguous_test.txt: not UTF-8 text"):
        build(Thumos14WeakBuilder, tmp_path, annotation_dir=str(layout))
