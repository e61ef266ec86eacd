"""README "Models": the train -> evaluate (mAP logged) -> trainer.push_to_hub() -> pipeline(model=repo_id) snippet, run
as written against the Hub-compatible server of tests/hub_server.py."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")


def readme_snippet() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Train, evaluate, share, use", 1)[1]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


def test_readme_train_evaluate_push_and_pipeline(hub_server, tmp_path):
    code = readme_snippet()
    assert "trainer.push_to_hub(" in code and 'pipeline(model="your-name/actionformer-synthetic")' in code
    check = (
        "\nimport json, torch\n"
        "state = [h for h in trainer.state.log_history if 'eval_average_mAP' in h]\n"
        "out = detector(data['test'][0])\n"
        "print('RESULT' + json.dumps({'metrics': metrics, 'evaluations': len(state), 'task': detector.task,\n"
        "      'pipeline': type(detector).__name__, 'detections': out[:3]}))\n"
    )
    env = hub_server.client_env(tmp_path / "home")
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]))
    env.pop("TRACKIO_DIR", None)
    result = subprocess.run(
        [sys.executable, "-c", "import torch; torch.set_num_threads(1)\n" + code + check],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    found = json.loads(result.stdout.split("RESULT", 1)[1])
    assert found["evaluations"] == 11  # one per epoch, then the final evaluate()
    assert found["pipeline"] == "TemporalActionLocalizationPipeline"
    assert found["task"] == "temporal-action-localization"
    assert 0.3 < found["metrics"]["eval_average_mAP"] <= 1.0  # it learned (0.59 measured in 10 epochs)
    for detection in found["detections"]:
        assert set(detection) == {"segment", "score", "label"}

    card = hub_server.read_file("model", "your-name/actionformer-synthetic", "README.md").decode()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["pipeline_tag"] == "temporal-action-localization" and meta["datasets"] == ["momentzoo-synthetic-tal"]
    reported = {m["type"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert reported["average_mAP"] == pytest.approx(found["metrics"]["eval_average_mAP"])
    assert "# your-name/actionformer-synthetic" in card
