"""The public API: every name in `momentzoo.__all__` resolves from the top level, every registered model's config
and model class is among them, and `import momentzoo` stays light (no TRL) while registering everything."""

import subprocess
import sys

import momentzoo
from momentzoo.auto import _resolve
from momentzoo.models import MODELS


def test_every_public_name_resolves_from_the_top_level():
    for name in momentzoo.__all__:
        assert getattr(momentzoo, name) is not None, name
    assert set(momentzoo.__all__) <= set(dir(momentzoo))


def test_every_registered_model_is_public():
    for entry in MODELS:
        for dotted in (entry.config, entry.model):
            name = dotted.rpartition(".")[2]
            assert name in momentzoo.__all__, f"{name} ({entry.model_type}) is not in momentzoo.__all__"
            assert getattr(momentzoo, name) is _resolve(dotted)


def test_trainers_and_pipelines_from_the_top_level():
    from momentzoo import Invert4TVGTrainer, LanguageAdvantageTrainer, TemporalActionLocalizationPipeline
    from momentzoo.training.actionvlm.trainer import LanguageAdvantageTrainer as defined_here

    assert LanguageAdvantageTrainer is defined_here
    assert Invert4TVGTrainer.__module__ == "momentzoo.training.invert4tvg.trainer"
    assert TemporalActionLocalizationPipeline.__module__ == "momentzoo.pipelines.temporal_action_localization"


def test_an_unknown_name_is_an_attribute_error():
    try:
        momentzoo.NotAModel  # noqa: B018
    except AttributeError as err:
        assert "NotAModel" in str(err)
    else:
        raise AssertionError("expected AttributeError")


def test_import_is_light_and_registers_everything():
    code = (
        "import sys, momentzoo\n"
        "from transformers import AutoConfig, pipeline\n"
        "from transformers.pipelines import PIPELINE_REGISTRY\n"
        "heavy = sorted({'trl', 'datasets', 'av', 'spacy', 'peft'} & set(sys.modules))\n"
        "assert not heavy, f'import momentzoo imported {heavy}'\n"
        "for entry in momentzoo.MODELS: AutoConfig.for_model(entry.model_type)\n"
        "assert 'temporal-action-localization' in PIPELINE_REGISTRY.get_supported_tasks()\n"
        "from momentzoo import Invert4TVGConfig\n"
        "assert 'trl' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
