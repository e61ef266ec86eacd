"""momentzoo.hub: model cards rendered from the package's templates, and a real push/pull round trip against the
Hub-compatible server of tests/hub_server.py.

Pushes run in this process (huggingface_hub's constants are patched for offline mode and Xet, and the endpoint is
passed explicitly or patched); pulls run in a fresh Python process with `HF_ENDPOINT` set, because transformers
and datasets read the endpoint when they are imported."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from hub_server import TOKEN
from huggingface_hub import ModelCard
from safetensors.torch import load_file
from tiny_models import (
    TinyDetectorConfig,
    TinyDetectorForTemporalLocalization,
    TinyGrounderConfig,
    TinyGrounderForTemporalGrounding,
    register_tiny_models,
)

from momentzoo import hub, model_cards
from momentzoo.hub import model_card_template, push_to_hub, render_model_card, save_model_card

# huggingface_hub's basic LFS upload passes the file as `data=`, which httpx deprecates: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

TESTS_DIR = Path(__file__).resolve().parents[1]
LABELS = {0: "BaseballPitch", 1: "CliffDiving", 2: "LongJump"}


@pytest.fixture(autouse=True)
def _registered():
    register_tiny_models()


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n"), "a model card starts with its YAML metadata"
    return yaml.safe_load(text.split("---\n")[1])


# --- templates and rendering ------------------------------------------------------------------------------------
def test_templates_ship_inside_the_package():
    assert hub.MODEL_CARDS_DIR == model_cards.MODEL_CARDS_DIR == Path(hub.__file__).resolve().parent / "model_cards"
    assert model_card_template("tiny_detector") == hub.MODEL_CARDS_DIR / "default.md"
    for bad in ("../setup", "a/b", "", ".hidden"):
        with pytest.raises(ValueError, match="model_type"):
            model_card_template(bad)


def test_a_model_specific_template_wins_over_the_default(tmp_path, monkeypatch):
    (tmp_path / "default.md").write_text("---\n{{ card_data }}\n---\nDEFAULT {{ model_id }}\n")
    (tmp_path / "tiny_detector.md").write_text(
        "---\n{{ card_data }}\n---\n# {{ model_class }} on {{ results_dataset }}\n{{ results_table }}\n{{ paper }}\n"
    )
    monkeypatch.setattr(model_cards, "MODEL_CARDS_DIR", tmp_path)
    model = TinyDetectorForTemporalLocalization(TinyDetectorConfig())
    card = render_model_card(
        model, model_id="org/x", datasets="thumos14", results={"average_mAP": 0.5}, paper="Zhang et al., 2022"
    )
    assert "# TinyDetectorForTemporalLocalization on thumos14" in card.content
    assert "| average_mAP | 0.5000 |" in card.content and "Zhang et al., 2022" in card.content
    grounder = TinyGrounderForTemporalGrounding(TinyGrounderConfig())
    assert "DEFAULT org/g" in render_model_card(grounder, model_id="org/g").content


def test_card_metadata_and_body():
    model = TinyDetectorForTemporalLocalization(TinyDetectorConfig(hidden_size=16, id2label=LABELS))
    card = render_model_card(
        model,
        model_id="org/tiny-detector",
        datasets=["thumos14"],
        base_model="MCG-NJU/videomae-base",
        results={"mAP@0.5": 0.712, "average_mAP": 0.665},
        tags=["video"],
        license="mit",
        citation="@inproceedings{af}",
    )
    meta = _front_matter(str(card))
    assert meta["library_name"] == "transformers" and meta["license"] == "mit"
    assert meta["pipeline_tag"] == "temporal-action-localization"  # pipeline(model="org/repo") infers the task
    assert meta["tags"] == ["momentzoo", "temporal-action-localization", "tiny_detector", "video"]
    assert meta["datasets"] == ["thumos14"] and meta["base_model"] == ["MCG-NJU/videomae-base"]
    results = meta["model-index"][0]["results"][0]
    assert results["task"]["type"] == "temporal-action-localization"
    assert results["dataset"]["name"] == "thumos14"
    assert {m["type"]: m["value"] for m in results["metrics"]} == {"mAP@0.5": 0.712, "average_mAP": 0.665}
    assert card.data.eval_results[0].metric_value == 0.712  # huggingface_hub parses it back
    body = card.content
    assert "# org/tiny-detector" in body
    assert 'AutoModel.from_pretrained("org/tiny-detector")' in body
    assert "momentzoo.AutoModelForTemporalLocalization" in body
    assert f"**Parameters:** {model.num_parameters()}" in body
    assert "| `hidden_size` | `16` |" in body and "| `kernel_size` | `3` |" in body
    assert "transformers_version" not in body.split("## Configuration")[1]  # bookkeeping fields are left out
    assert "**Classes (3):** BaseballPitch, CliffDiving, LongJump" in body
    assert "| mAP@0.5 | 0.7120 |" in body and "@inproceedings{af}" in body
    assert "{{" not in body and "{%" not in body


def test_card_from_a_config_alone_and_for_grounding():
    card = render_model_card(TinyGrounderConfig(query_dim=7), model_id="org/g", num_parameters=1_234_567)
    assert _front_matter(str(card))["tags"][:2] == ["momentzoo", "temporal-video-grounding"]
    assert "TinyGrounderForTemporalGrounding" in card.content and "grounding_recall" in card.content
    assert "**Parameters:** 1.2M (1,234,567)" in card.content
    assert "| `query_dim` | `7` |" in card.content
    assert "## Evaluation" not in card.content and "## Citation" not in card.content


def test_rendering_rejects_bad_input():
    from transformers import PreTrainedConfig

    class UnregisteredConfig(PreTrainedConfig):
        model_type = "not_registered_anywhere"

    with pytest.raises(ValueError, match="not registered with a momentzoo task"):
        render_model_card(UnregisteredConfig())
    with pytest.raises(ValueError, match="results must map metric names to numbers"):
        render_model_card(TinyDetectorConfig(), results={"mAP": "high"})
    with pytest.raises(ValueError, match="PreTrainedModel or PreTrainedConfig"):
        render_model_card({"model_type": "tiny_detector"})


def test_save_pretrained_writes_the_card(tmp_path):
    model = TinyDetectorForTemporalLocalization(TinyDetectorConfig(id2label=LABELS))
    model.save_pretrained(tmp_path / "ckpt")
    card = ModelCard.load(tmp_path / "ckpt" / "README.md")
    assert card.data.library_name == "transformers" and "momentzoo" in card.data.tags
    assert card.data.pipeline_tag == "temporal-action-localization"
    assert "# ckpt" in card.content and str(tmp_path) not in card.content  # a local path is never published
    assert (tmp_path / "ckpt" / "model.safetensors").is_file()
    path = save_model_card(model, tmp_path / "ckpt", model_id="org/renamed")
    assert "# org/renamed" in path.read_text()


def test_push_rejects_a_folder_that_is_not_a_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        push_to_hub(tmp_path, "tester/nothing")


# --- push and pull against the local Hub ------------------------------------------------------------------------
PULL_SCRIPT = textwrap.dedent("""
    import json, sys
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModel
    from huggingface_hub import hf_hub_download
    import datasets
    import momentzoo
    from tiny_models import register_tiny_models

    register_tiny_models()
    out, rows = sys.argv[1], json.loads(sys.argv[2])
    tensors = {}
    for repo_id, auto_class in (("tester/tiny-detector", momentzoo.AutoModelForTemporalLocalization),
                                ("tester/tiny-grounder", momentzoo.AutoModelForTemporalGrounding)):
        name = repo_id.split("/")[1]
        for tag, cls in (("auto", AutoModel), ("task", auto_class)):
            model = cls.from_pretrained(repo_id)
            assert type(model).__name__ == json.loads(sys.argv[3])[name], type(model)
            tensors.update({f"{name}.{tag}.weight.{k}": v.contiguous() for k, v in model.state_dict().items()})
            with torch.no_grad():
                output = model(**model.dummy_inputs)
            tensors.update({f"{name}.{tag}.output.{k}": v.clone() for k, v in output.items()})
        readme = hf_hub_download(repo_id, "README.md")
        open(f"{out}/{name}.README.md", "w").write(open(readme).read())
    save_file(tensors, f"{out}/pulled.safetensors")

    features = datasets.Features({
        "video_id": datasets.Value("string"), "duration": datasets.Value("float32"),
        "features": datasets.Array2D(shape=(None, 4), dtype="float32"),
        "segments": datasets.List(datasets.List(datasets.Value("float32"), length=2)),
        "labels": datasets.List(datasets.ClassLabel(names=["BaseballPitch", "CliffDiving"])),
    })
    datasets.Dataset.from_list(rows, features=features).push_to_hub("tester/tiny-tal", split="test")
    loaded = datasets.load_dataset("tester/tiny-tal", split="test")
    json.dump({"rows": loaded.to_list(), "features": str(loaded.features)}, open(f"{out}/dataset.json", "w"))
""")


def test_push_then_pull_from_the_hub(online, tmp_path):
    server = online
    detector = TinyDetectorForTemporalLocalization(TinyDetectorConfig(id2label=LABELS)).eval()
    grounder = TinyGrounderForTemporalGrounding(TinyGrounderConfig()).eval()

    # 1. A saved folder, pushed with momentzoo.hub.push_to_hub (explicit endpoint and token).
    detector.save_pretrained(tmp_path / "detector")
    commit = push_to_hub(
        tmp_path / "detector",
        "tester/tiny-detector",
        token=TOKEN,
        endpoint=server.url,
        card_kwargs={"datasets": ["thumos14"], "results": {"average_mAP": 0.42}},
    )
    assert commit.oid and commit.commit_url.startswith(server.url)
    # 2. The mixin's model.push_to_hub (default endpoint, PushToHubMixin's signature), a repo id without namespace.
    grounder.push_to_hub("tiny-grounder", token=TOKEN, tags=["charades_sta"])
    # 3. save_pretrained(push_to_hub=True).
    detector.save_pretrained(tmp_path / "again", push_to_hub=True, repo_id="tester/tiny-detector-2", token=TOKEN)

    for repo_id in ("tester/tiny-detector", "tester/tiny-grounder", "tester/tiny-detector-2"):
        files = {
            p for (_, rid), repo in server.repos.items() if rid == repo_id for p in repo.commits[repo.head]["tree"]
        }
        assert {"config.json", "model.safetensors", "README.md"} <= files, (repo_id, files)
        card = server.read_file("model", repo_id, "README.md").decode()
        assert f"# {repo_id}\n" in card and f'from_pretrained("{repo_id}")' in card
    # Weights went through the git-LFS batch + PUT path, the card through a regular commit.
    assert any(m == "PUT" and p.startswith("/lfs-objects/") and s == 200 for m, p, s in server.requests)

    rows = [
        {
            "video_id": "video_test_0000004",
            "duration": 33.5,
            "features": torch.randn(5, 4).tolist(),
            "segments": [[0.5, 3.25], [10.0, 12.5]],
            "labels": [0, 1],
        },
        {
            "video_id": "video_test_0000006",
            "duration": 12.0,
            "features": torch.randn(3, 4).tolist(),
            "segments": [[1.0, 2.0]],
            "labels": [1],
        },
    ]
    names = {"tiny-detector": type(detector).__name__, "tiny-grounder": type(grounder).__name__}
    result = subprocess.run(
        [sys.executable, "-c", PULL_SCRIPT, str(tmp_path), json.dumps(rows), json.dumps(names)],
        env={**server.client_env(tmp_path / "hf_home"), "PYTHONPATH": str(TESTS_DIR)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-4000:]

    pulled = load_file(tmp_path / "pulled.safetensors")
    for name, model in (("tiny-detector", detector), ("tiny-grounder", grounder)):
        with torch.no_grad():
            expected = model(**model.dummy_inputs)
        for tag in ("auto", "task"):
            for key, value in model.state_dict().items():
                assert torch.equal(pulled[f"{name}.{tag}.weight.{key}"], value), f"{name} {tag}: {key} differs"
            for key, value in expected.items():
                assert torch.equal(pulled[f"{name}.{tag}.output.{key}"], value), f"{name} {tag}: output {key}"

    card = (tmp_path / "tiny-detector.README.md").read_text()
    meta = _front_matter(card)
    assert meta["datasets"] == ["thumos14"] and "temporal-action-localization" in meta["tags"]
    assert "| average_mAP | 0.4200 |" in card and "**Classes (3):** BaseballPitch, CliffDiving, LongJump" in card
    assert f"**Parameters:** {detector.num_parameters()}" in card  # counted from the safetensors header
    grounder_card = (tmp_path / "tiny-grounder.README.md").read_text()
    assert "# tester/tiny-grounder\n" in grounder_card and "charades_sta" in _front_matter(grounder_card)["tags"]

    dataset = json.loads((tmp_path / "dataset.json").read_text())
    assert "Array2D(shape=(None, 4)" in dataset["features"] and "ClassLabel" in dataset["features"]
    assert [r["video_id"] for r in dataset["rows"]] == [r["video_id"] for r in rows]
    for got, sent in zip(dataset["rows"], rows):
        assert got["labels"] == sent["labels"] and got["segments"] == sent["segments"]
        assert got["duration"] == pytest.approx(sent["duration"])
        assert torch.equal(torch.tensor(got["features"]), torch.tensor(sent["features"]))


def test_cli_push_renders_the_card_from_evaluate_results(online, tmp_path, monkeypatch, capsys):
    from momentzoo.cli import main

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    model = TinyDetectorForTemporalLocalization(TinyDetectorConfig())
    model.save_pretrained(tmp_path / "ckpt")
    results = tmp_path / "eval.json"
    results.write_text(json.dumps({"mAP@0.5": 0.5, "average_mAP": 0.45, "per_class_AP": {"Diving": [0.1]}}))
    assert (
        main(
            [
                "push",
                str(tmp_path / "ckpt"),
                "tester/cli-detector",
                "--dataset",
                "thumos14",
                "--results",
                str(results),
                "--tag",
                "features-i3d",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip().startswith(f"{online.url}/tester/cli-detector/commit/")
    card = online.read_file("model", "tester/cli-detector", "README.md").decode()
    meta = _front_matter(card)
    assert "features-i3d" in meta["tags"] and meta["datasets"] == ["thumos14"]
    assert "| mAP@0.5 | 0.5000 |" in card and "| average_mAP | 0.4500 |" in card and "per_class_AP" not in card
    assert (
        online.read_file("model", "tester/cli-detector", "model.safetensors")
        == (tmp_path / "ckpt" / "model.safetensors").read_bytes()
    )


def test_cli_results_file_errors(tmp_path):
    from momentzoo.commands.push import read_results

    (tmp_path / "list.json").write_text("[0.5]")
    (tmp_path / "none.json").write_text('{"per_class_AP": {"a": 1}}')
    with pytest.raises(ValueError, match="list.json: expected a JSON object"):
        read_results(tmp_path / "list.json")
    with pytest.raises(ValueError, match="none.json: no top-level numeric metric"):
        read_results(tmp_path / "none.json")
    with pytest.raises(ValueError, match="missing.json: cannot read"):
        read_results(tmp_path / "missing.json")


def test_bad_card_input_fails_before_the_repo_is_created(online, tmp_path):
    TinyDetectorForTemporalLocalization(TinyDetectorConfig()).save_pretrained(tmp_path / "ckpt")
    with pytest.raises(ValueError, match="results must map metric names to numbers"):
        push_to_hub(tmp_path / "ckpt", "tester/never-created", token=TOKEN, card_kwargs={"results": {"mAP": "x"}})
    assert ("model", "tester/never-created") not in online.repos
