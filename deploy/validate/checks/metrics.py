"""Dashboards and alert rules use only metrics the exporters emit (`metrics_catalog.yaml`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from .common import DASHBOARD_DIR, Finding, load_documents, manifest_files, rel, yload

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "inf", "nan", "atan2"}


def metric_names(expr: str) -> set[str]:
    "Metric names a PromQL expression reads (labels, functions, keywords, durations and Grafana variables removed)."
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', "", expr)  # string literals
    s = re.sub(r"\{[^}]*\}", "", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)  # range / subquery durations
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", s)  # label lists
    s = re.sub(r"\$\{?\w+\}?", "", s)  # Grafana variables
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        word, rest = m.group(0), s[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        if m.start() > 0 and (s[m.start() - 1].isdigit() or s[m.start() - 1] == "."):
            continue  # unit suffix of a number such as 1e3 or 0.5
        names.add(word)
    return names


SUFFIXES = {"counter": [""], "gauge": [""], "summary": ["", "_sum", "_count"], "histogram": ["_bucket", "_sum", "_count"]}


def jmx_metric_names(root: Path) -> set[str]:
    "The fixed metric names of the Kafka JMX exporter rules (read from the ConfigMap the broker uses)."
    docs, _ = load_documents(root / "deploy" / "k8s" / "kafka" / "kafka.yaml")
    names = set()
    for d in docs:
        if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == "kafka-metrics":
            rules = yload(d["data"]["kafka-metrics-config.yml"])["rules"]
            names |= {r["name"] for r in rules if "$" not in r.get("name", "$")}
    return names


def known_metrics(root: Path) -> dict[str, str]:
    "`metric name -> exporter` for everything the exporters emit (catalog plus the Kafka JMX rules)."
    catalog = yload((root / "deploy" / "validate" / "metrics_catalog.yaml").read_text())
    out = {n: "kafka-jmx (deploy/k8s/kafka/kafka.yaml)" for n in jmx_metric_names(root)}
    for exporter, spec in catalog["exporters"].items():
        for name, type_ in spec["metrics"].items():
            for suffix in SUFFIXES[type_]:
                out[name + suffix] = exporter
    return out


def dashboard_exprs(root: Path) -> Iterator[tuple[str, str, str]]:
    "(file, panel title, expr) for every target of every dashboard JSON."
    for p in sorted((root / DASHBOARD_DIR).glob("*.json")):
        dash = json.loads(p.read_text(encoding="utf-8"))
        for panel in dash.get("panels", []):
            for t in panel.get("targets", []):
                yield rel(p, root), panel.get("title", "?"), t.get("expr", "")


def rule_exprs(root: Path) -> Iterator[tuple[str, str, str]]:
    "(file, alert, expr) for every rule of every PrometheusRule."
    for p in manifest_files(root):
        docs, _ = load_documents(p)
        for d in docs:
            if d.get("kind") == "PrometheusRule":
                for g in d["spec"]["groups"]:
                    for r in g["rules"]:
                        yield rel(p, root), r.get("alert") or r.get("record", "?"), str(r["expr"])


def check_metrics(root: Path) -> list[Finding]:
    "Dashboards and alerts reference only known exporter metrics, and each dashboard has queries."
    known = known_metrics(root)
    out = []
    per_file: dict[str, int] = {}
    for file, where, expr in [*dashboard_exprs(root), *rule_exprs(root)]:
        per_file[file] = per_file.get(file, 0) + 1
        if not expr.strip():
            out.append(Finding(file, where, "empty query"))
        for name in sorted(metric_names(expr) - set(known)):
            out.append(Finding(file, where, f"unknown metric {name!r}: no exporter emits it (metrics_catalog.yaml)"))
    dashboards = sorted((root / DASHBOARD_DIR).glob("*.json"))
    if len(dashboards) < 4:
        out.append(Finding(str(DASHBOARD_DIR), "-", f"expected the design's four dashboards, found {len(dashboards)}"))
    return out
