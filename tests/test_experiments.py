"""The research notebooks are reproducible: the rule-tuning and rule-defaults notebooks run twice by papermill give
identical JSON and leave config/ untouched (rule_defaults writes it only with write_config=True), and `streamflow
import` + `streamflow tune` on the shipped Sparkov slice give the same candidate rules and figures twice. These are
the only runs of rule_tuning, rule_defaults and tune_rules in `make test` (`make test-nb` skips them); nbdev_test runs
generator_fit with its tolerance asserts."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # papermill runs of research notebooks: minutes, so not in `make test-fast`

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _config_digest() -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((ROOT / "config").rglob("*")) if p.is_file()}


def _papermill(nb: str, out: Path, **params) -> dict:
    args = [str(BIN / "papermill"), "--log-level", "ERROR", "-k", "python3", str(ROOT / "nbs/experiments" / nb), str(out.with_suffix(".ipynb"))]
    for k, v in {**params, "result_path": str(out.with_suffix(".json"))}.items():
        args += ["-y", f"{k}: {json.dumps(v)}"] if isinstance(v, list) else ["-p", k, str(v)]
    env = {**os.environ, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
    subprocess.run(args, check=True, cwd=ROOT, env=env, capture_output=True, timeout=600)
    return json.loads(out.with_suffix(".json").read_text())


def test_rule_tuning_is_reproducible_and_leaves_config_alone(tmp_path):
    before = _config_digest()
    a = _papermill("rule_tuning.ipynb", tmp_path / "a", n=3000, train_seed=3, test_seed=4)
    b = _papermill("rule_tuning.ipynb", tmp_path / "b", n=3000, train_seed=3, test_seed=4)
    assert a == b
    assert _config_digest() == before
    assert a["parameters"] == {"train_seed": 3, "test_seed": 4, "n": 3000, "fraud_rate": 0.02, "target_precision": 0.9}
    assert a["events"]["test"] == 3000 and a["events"]["test_frauds"] > 30
    tuned = a["tuned"]
    assert set(tuned["per_pattern_recall"]) == {"amount_spike", "velocity_burst", "impossible_travel", "odd_hour",
                                                "blacklisted", "account_takeover"}
    assert tuned["tp"] + tuned["fn"] == a["events"]["test_frauds"] and tuned["tp"] + tuned["fp"] + tuned["fn"] + tuned["tn"] == 3000
    assert 0.25 <= min(tuned["weights"].values()) and max(tuned["weights"].values()) <= 1.0
    assert tuned["per_pattern_recall"]["blacklisted"] == 1.0



def test_rule_defaults_is_reproducible_and_leaves_config_alone(tmp_path):
    before = _config_digest()
    a = _papermill("rule_defaults.ipynb", tmp_path / "a", n=3000, gen_test_seeds=[2])
    b = _papermill("rule_defaults.ipynb", tmp_path / "b", n=3000, gen_test_seeds=[2])
    assert a == b
    assert _config_digest() == before
    rules = a["rules"]
    assert all(rules[r]["weight"] > rules["threshold"] for r in ("high_value", "velocity", "geographic", "blacklist"))
    assert rules["episode"]["enabled"] and rules["hour_risk"]["lift"] == []
    assert set(a["held_out"]) == {"foreign, held out", "foreign, whole history (zero-shot)", "generator seed 2"}
    zs = a["held_out"]["foreign, whole history (zero-shot)"]
    assert set(zs) == {"chosen defaults", "before (b212595)", "amount alone", "naive weighted rules"}
    assert set(a["held_out"]["generator seed 2"]) == set(zs) | {"gradient boosting"}


def _streamflow(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run([str(BIN / "streamflow"), *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_import_then_tune_on_the_slice_twice_identically(tmp_path):
    before = _config_digest()
    imp = _streamflow("import", "data/samples/sparkov_slice.csv.gz", "-m", "config/mappings/sparkov.yaml",
                      "-o", str(tmp_path / "slice" / "events.jsonl"), "--quiet", "--json")
    assert imp.returncode == 0, imp.stderr
    assert json.loads(imp.stdout)["rejected"] == 0
    runs = []
    for name in ("a", "b"):
        r = _streamflow("tune", str(tmp_path / "slice" / "events.jsonl"), "--split", "2019-07-01", "--out", str(tmp_path / name),
                        "--quiet")
        assert r.returncode == 0, r.stderr
        assert "tuned rules" in r.stdout and "gradient boosting" in r.stdout
        runs.append(((tmp_path / name / "tune.json").read_text(), (tmp_path / name / "rules.yaml").read_text()))
        assert (tmp_path / name / "report.html").stat().st_size > 100_000  # the figures are in it
    (ja, ra), (jb, rb) = runs
    assert ra == rb
    a, b = json.loads(ja), json.loads(jb)
    for d in (a, b):  # the output folder is the only difference
        d.pop("rules_file")
    assert a == b
    assert _config_digest() == before
    assert "mapping" in ra and "sha256" in ra and "2019-07-01" in ra  # the provenance header
    held = a["held_out"]
    assert set(held) == {"tuned rules", "rules as they are", "amount alone", "naive weighted rules", "gradient boosting"}
    assert held["tuned rules"]["tp"] + held["tuned rules"]["fn"] == a["events"]["held_out_frauds"] > 0
