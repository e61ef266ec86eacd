"""`Trainer.push_to_hub()` of momentzoo's trainers publishes the momentzoo card (not transformers' generic one):
titled by the repo id, with `pipeline_tag`, the real base model and the architecture of the trained config, so
that `pipeline(model=repo_id)` on another machine infers the task and loads the model. Runs against the
Hub-compatible server of tests/hub_server.py."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from hub_server import TOKEN
from transformers import TrainingArguments

from momentzoo.data import TemporalLocalizationCollator
from momentzoo.data.synthetic import make_synthetic_tal_dataset
from momentzoo.models.actionformer import ActionFormerForTemporalLocalization
from momentzoo.models.actionvlm import ActionVLMForTemporalLocalization
from momentzoo.testing import tiny_actionformer_config, tiny_actionvlm_config, tiny_tokenizer
from momentzoo.training import LanguageAdvantageTrainer, TemporalLocalizationTrainer

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")
TESTS_DIR = Path(__file__).resolve().parent


def _front_matter(card: str) -> dict:
    return yaml.safe_load(card.split("---\n")[1])


@pytest.fixture(scope="module")
def videos():
    data = make_synthetic_tal_dataset(
        num_classes=3,
        num_confusable_pairs=1,
        feature_dim=12,
        min_length=80,
        max_length=80,
        num_videos={"train": 2},
        seed=0,
    )
    return data["train"]


def _args(tmp_path, repo_id, **overrides):
    return TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=1,
        use_cpu=True,
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        push_to_hub=True,
        hub_model_id=repo_id,
        hub_token=TOKEN,
        save_strategy="no",
        **overrides,
    )


def test_trainer_push_to_hub_publishes_the_momentzoo_card(online, tmp_path, videos):
    model = ActionFormerForTemporalLocalization(
        tiny_actionformer_config(id2label=dict(enumerate(videos.features["labels"].feature.names)))
    )
    trainer = TemporalLocalizationTrainer(
        model=model,
        args=_args(tmp_path, "tester/af-trainer"),
        train_dataset=videos,
        data_collator=TemporalLocalizationCollator(max_seq_len=64),
    )
    trainer.train()
    trainer.push_to_hub(dataset="synthetic-tal")

    card = online.read_file("model", "tester/af-trainer", "README.md").decode()
    meta = _front_matter(card)
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "temporal-action-localization"
    assert "momentzoo" in meta["tags"] and meta["datasets"] == ["synthetic-tal"]
    assert "base_model" not in meta  # a model built from a config has no pretrained base
    assert "# tester/af-trainer\n" in card and str(tmp_path) not in card
    assert "An **ActionFormer** temporal action localization model" in card  # the family's card, not the generic one
    assert "4 levels with strides\n1, 2, 4, 8" in card  # architecture from the trained config
    assert "TemporalLocalizationTrainer` for 1 steps" in card
    files = {
        p
        for (_, rid), repo in online.repos.items()
        if rid == "tester/af-trainer"
        for p in repo.commits[repo.head]["tree"]
    }
    assert {"config.json", "model.safetensors", "README.md"} <= files

    # What a user does on another machine: the pipeline by repo id alone (the task comes from pipeline_tag).
    script = textwrap.dedent("""
        import numpy as np
        import momentzoo
        from transformers import pipeline
        detector = pipeline(model="tester/af-trainer")
        print(type(detector).__name__, detector.task)
        out = detector(np.random.default_rng(0).standard_normal((80, 12)).astype("float32"), fps=30.0,
                       feature_stride=4, num_frames=16)
        print(len(out) > 0 and set(out[0]) == {"segment", "score", "label"})
    """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=online.client_env(tmp_path / "client"),
        cwd=TESTS_DIR,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["TemporalActionLocalizationPipeline", "temporal-action-localization", "True"]


def test_a_fine_tuned_checkpoint_names_its_base_and_language_advantage_trainer_pushes_its_card(
    online, tmp_path, videos
):
    # ActionVLM through LanguageAdvantageTrainer, started from a checkpoint on the Hub: that is its base model.
    tokenizer = tiny_tokenizer(extra_tokens=("[cls]", "[loc]", "[adv]"))
    model = ActionVLMForTemporalLocalization(tiny_actionvlm_config(tokenizer=tokenizer))
    model.set_tokenizer(tokenizer)
    model.push_to_hub("tester/actionvlm-base", token=TOKEN)
    model = ActionVLMForTemporalLocalization.from_pretrained(
        "tester/actionvlm-base", token=TOKEN, cache_dir=tmp_path / "cache"
    )
    trainer = LanguageAdvantageTrainer(
        model=model,
        args=_args(tmp_path, "tester/actionvlm-ft"),
        train_dataset=videos,
        data_collator=TemporalLocalizationCollator(max_seq_len=64),
    )
    torch.manual_seed(0)
    trainer.train()
    trainer.push_to_hub(dataset="synthetic-tal", tags="debiasing")
    card = online.read_file("model", "tester/actionvlm-ft", "README.md").decode()
    meta = _front_matter(card)
    assert meta["base_model"] == ["tester/actionvlm-base"] and meta["pipeline_tag"] == "temporal-action-localization"
    assert "debiasing" in meta["tags"] and "# tester/actionvlm-ft\n" in card
    assert "ActionVLM" in card and "LanguageAdvantageTrainer` for 1 steps" in card
    assert "L = L_dh + 0.1 L_tg + 0.1 L_adv" in card  # the loss weights of the config
