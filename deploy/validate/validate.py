"""Offline validation of the production deployment in `deploy/`: no cluster, no network.

Checks, each returning a list of `Finding`s (an empty list means the check passed):
- every YAML manifest parses; core kinds validate against the Kubernetes OpenAPI schemas bundled with
  `kubernetes-validate` (strict: unknown fields fail) for the K3s target version; custom resources validate against
  the CRD `openAPIV3Schema`s vendored in `deploy/schemas/` (made strict the way the API server prunes unknown fields);
- the Airflow Helm values validate against the chart's `values.schema.json`; kube-prometheus-stack values use only
  keys the chart knows;
- every Terraform / Terragrunt file parses as HCL (python-hcl2), every Helm release pins a chart version, and the
  Terragrunt dependency graph matches the design's order;
- the generated files (KafkaTopics from `config/default.yaml`, dashboard ConfigMaps from the JSON) are up to date;
- dashboards and alert rules reference only metrics the exporters emit (`metrics_catalog.yaml`);
- the summed requests fit the design's budget (with the stated tolerance, no residual), every limit fits
  the node, and the summed memory limits stay within the declared overcommit of allocatable memory (`deploy/budget.yaml`).

Each concern is a module of `checks/`; this script runs them all.
Run `python deploy/validate/validate.py` (exit code 1 on any finding) or `--render` to regenerate the generated files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: `checks` sits beside it

from checks.budget import budget_report, check_budget  # noqa: E402
from checks.common import ROOT, Finding  # noqa: E402
from checks.helm import check_airflow_values, check_helm_values_parse, check_prometheus_stack_values  # noqa: E402
from checks.manifests import check_manifests  # noqa: E402
from checks.metrics import check_metrics  # noqa: E402
from checks.rendered import check_rendered, rendered  # noqa: E402
from checks.security import check_kafka_auth, check_namespace_isolation, check_pod_security  # noqa: E402
from checks.supply import check_docker, check_vendored, check_workflows  # noqa: E402
from checks.terraform import check_hcl  # noqa: E402

CHECKS = {
    "manifests": check_manifests,
    "airflow-values": check_airflow_values,
    "prometheus-stack-values": check_prometheus_stack_values,
    "helm-values": check_helm_values_parse,
    "hcl": check_hcl,
    "generated": check_rendered,
    "metrics": check_metrics,
    "budget": check_budget,
    "vendored-schemas": check_vendored,
    "docker": check_docker,
    "workflows": check_workflows,
    "pod-security": check_pod_security,
    "namespace-isolation": check_namespace_isolation,
    "kafka-auth": check_kafka_auth,
}


def run_all(root: Path = ROOT) -> dict[str, list[Finding]]:
    "Run every check on the tree at `root`; a check that crashes on malformed input is a finding too."
    out: dict[str, list[Finding]] = {}
    for name, fn in CHECKS.items():
        try:
            out[name] = fn(root)
        except Exception as e:  # malformed input (e.g. a quantity that is not a number) must fail, not crash
            out[name] = [Finding("deploy", name, f"check crashed on malformed input: {type(e).__name__}: {e}")]
    return out


def main(argv: list[str] | None = None) -> int:
    "Command line: validate (default), `--render` the generated files, or print the `--budget` table."
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="project root to validate (default: this checkout)")
    ap.add_argument("--render", action="store_true", help="rewrite the generated files, then validate")
    ap.add_argument("--budget", action="store_true", help="print every container's requests and limits")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    if args.render:
        for path, text in rendered(root).items():
            (root / path).write_text(text, encoding="utf-8")
            print(f"rendered {path}")
    if args.budget:
        print(budget_report(root))
    results = run_all(root)
    bad = 0
    for name, findings in results.items():
        print(f"{'FAIL' if findings else 'ok  '} {name}" + (f" ({len(findings)})" if findings else ""))
        for f in findings:
            print(f"     {f}")
        bad += len(findings)
    print(f"{bad} finding(s)" if bad else "deploy/ is valid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
