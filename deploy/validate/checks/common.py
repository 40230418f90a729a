"""Shared by every check: the project's layout, the fast YAML loader, and `Finding`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[3]
NOT_MANIFESTS = {"helm-values", "airflow"}  # folders under deploy/k8s holding Helm values, not manifests
DASHBOARD_DIR = Path("deploy/k8s/monitoring/dashboards")
KAFKA_CLUSTER = "streamflow"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the vendored CRDs are megabytes of YAML


def yload(text: str) -> Any:
    "Parse one YAML document (fast loader)."
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader


def yload_all(text: str) -> Iterator[Any]:
    "Parse every YAML document of a stream (fast loader)."
    return yaml.load_all(text, Loader=_Loader)  # noqa: S506 - a safe loader


@dataclass(frozen=True)
class Finding:
    "One problem: which file, where in it, and what is wrong."
    path: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.path} [{self.where}]: {self.message}"


def rel(path: Path, root: Path) -> str:
    "`path` relative to `root` when possible (for readable findings)."
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------------------------- YAML loading
def load_documents(path: Path) -> tuple[list[dict], list[str]]:
    "All non-empty YAML documents in `path`, and parse errors (as text)."
    try:
        docs = [d for d in yload_all(path.read_text(encoding="utf-8")) if d is not None]
    except yaml.YAMLError as e:
        return [], [f"YAML does not parse: {e}"]
    bad = [f"document {i} is a {type(d).__name__}, not a mapping" for i, d in enumerate(docs) if not isinstance(d, dict)]
    return [d for d in docs if isinstance(d, dict)], bad


def manifest_files(root: Path) -> list[Path]:
    "Every Kubernetes manifest under deploy/k8s (Helm values folders excluded)."
    base = root / "deploy" / "k8s"
    files = sorted(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [p for p in files if p.relative_to(base).parts[0] not in NOT_MANIFESTS]


def doc_id(doc: dict) -> str:
    "`Kind/namespace/name` of a manifest, for messages."
    md = doc.get("metadata") or {}
    return f"{doc.get('kind')}/{md.get('namespace', '-')}/{md.get('name')}" if isinstance(md, dict) else str(doc.get("kind"))


def schema_errors(validator: jsonschema.protocols.Validator, doc: dict) -> list[str]:
    "Every JSON-schema violation of `doc`, as `dotted.path: message`, in document order."
    errs = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(str(x) for x in e.absolute_path) or '<root>'}: {e.message[:300]}" for e in errs]


def at_path(doc: Any, dotted: str) -> Any:
    "The value at `a.b.c` in nested mappings, or None where the path stops."
    for k in dotted.split("."):
        if not isinstance(doc, dict) or k not in doc:
            return None
        doc = doc[k]
    return doc
