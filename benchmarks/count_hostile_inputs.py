"""Count the catalogue of hostile inputs the project refuses: the tests in tests/hostile_inputs/, one file per area
(test_hostile_<area>.py), each test case one bad input (a parametrized test counts once per case).

    python benchmarks/count_hostile_inputs.py

Prints cases and test functions per area and the total, so the next hostile-input probe can compare.
"""

import collections
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "tests" / "hostile_inputs"


def collect() -> list[str]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(FOLDER)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    if out.returncode != 0 or not ids:
        raise SystemExit(f"collection failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return ids


def main():
    cases, functions = collections.Counter(), collections.defaultdict(set)
    for node in collect():
        path, name = node.split("::", 1)
        area = re.sub(r"^test_hostile_|\.py$", "", Path(path).name)
        cases[area] += 1
        functions[area].add(name.split("[", 1)[0])
    print(f"hostile inputs refused, by area ({FOLDER.relative_to(REPO)}):")
    print(f"{'area':<12}{'cases':>7}{'tests':>7}")
    for area in sorted(cases):
        print(f"{area:<12}{cases[area]:>7}{len(functions[area]):>7}")
    print(f"{'total':<12}{sum(cases.values()):>7}{sum(len(f) for f in functions.values()):>7}")


if __name__ == "__main__":
    main()
