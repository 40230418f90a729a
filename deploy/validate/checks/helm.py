"""Helm values: the Airflow chart's schema and the keys kube-prometheus-stack knows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from .common import Finding, load_documents, rel, schema_errors, yload


def deep_merge(base: Any, over: Any) -> Any:
    "Helm's merge of a values override onto chart defaults: maps merge, everything else replaces."
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base.get(k), v) if k in base else v
        return out
    return over


def values_document(path: Path, root: Path) -> tuple[dict | None, list[Finding]]:
    "A Helm values file's one mapping, or None and the findings that say why not."
    docs, errs = load_documents(path)
    if errs or len(docs) != 1:
        return None, [Finding(rel(path, root), "parse", e) for e in errs or ["expected exactly one YAML document"]]
    return docs[0], []


def check_airflow_values(root: Path) -> list[Finding]:
    "The Airflow values file, merged over the chart defaults, against the chart's values.schema.json."
    chart = root / "deploy" / "schemas" / "airflow-chart" / "1.21.0"
    path = root / "deploy" / "k8s" / "airflow" / "values.yaml"
    doc, bad = values_document(path, root)
    if doc is None:
        return bad
    values = deep_merge(yload((chart / "values.yaml").read_text()), doc)
    schema = json.loads((chart / "values.schema.json").read_text())
    schema.setdefault("additionalProperties", False)  # the schema is strict below the root, not at it
    out = [Finding(rel(path, root), "values.schema.json", e)
           for e in schema_errors(jsonschema.Draft7Validator(schema), values)]
    if values.get("executor") != "LocalExecutor":
        out.append(Finding(rel(path, root), "executor", "the design runs Airflow with the LocalExecutor"))
    return out


def unknown_keys(values: Any, reference: Any, open_keys: set[str], prefix: str = "") -> list[str]:
    "Keys of `values` that the chart's default `reference` does not have (free-form maps are not descended)."
    if not isinstance(values, dict) or not isinstance(reference, dict) or not reference:
        return []
    out = []
    for k, v in values.items():
        path = f"{prefix}{k}"
        if path in open_keys:
            continue
        if k not in reference:
            out.append(path)
        else:
            out += unknown_keys(v, reference[k], open_keys, path + ".")
    return out


def check_prometheus_stack_values(root: Path) -> list[Finding]:
    "kube-prometheus-stack values use only keys of the chart's values.yaml (its subcharts ship their own)."
    chart = root / "deploy" / "schemas" / "kube-prometheus-stack" / "88.5.3"
    path = root / "deploy" / "k8s" / "helm-values" / "kube-prometheus-stack.yaml"
    doc, bad = values_document(path, root)
    if doc is None:
        return bad
    subcharts = {d.get("alias") or d["name"] for d in yload((chart / "Chart.yaml").read_text())["dependencies"]}
    reference = yload((chart / "values.yaml").read_text())
    open_keys = {"prometheus.prometheusSpec.resources", "alertmanager.alertmanagerSpec.resources",
                 "prometheusOperator.resources", "prometheus.prometheusSpec.storageSpec"} | subcharts
    return [Finding(rel(path, root), k, "not a key of the chart's values.yaml") for k in
            unknown_keys(doc, reference, open_keys)]


def check_helm_values_parse(root: Path) -> list[Finding]:
    "Every Helm values file parses to one mapping."
    out = []
    for p in sorted((root / "deploy" / "k8s" / "helm-values").glob("*.yaml")):
        docs, errs = load_documents(p)
        out += [Finding(rel(p, root), "parse", e) for e in errs]
        if not errs and len(docs) != 1:
            out.append(Finding(rel(p, root), "parse", "expected exactly one YAML document"))
    return out
