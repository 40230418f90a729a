"""Kubernetes manifests: strict schemas (core kinds and vendored CRDs) and the design's semantics."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

from .common import (
    KAFKA_CLUSTER,
    Finding,
    at_path,
    doc_id,
    load_documents,
    manifest_files,
    rel,
    schema_errors,
    yload_all,
)

K8S_VERSION = "1.35.0"  # the K3s release the runbook installs (docs/DEPLOY.md); kubernetes-validate bundles it
NAMESPACES = ("streamflow-kafka", "streamflow-processing", "streamflow-data", "streamflow-orchestration",
              "streamflow-monitoring")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "PersistentVolume",
                  "CustomResourceDefinition", "PriorityClass"}
FLINK_ENTRY_POINTS = ("streamflow.jobs.transaction_processor", "streamflow.jobs.fraud_detector",
                      "streamflow.jobs.realtime_aggregator")
PYTHON_DRIVER = "org.apache.flink.client.python.PythonDriver"


def strictify(schema: Any) -> Any:
    "Copy of an openAPIV3Schema where objects with `properties` reject unknown keys (as the API server prunes them)."
    if isinstance(schema, dict):
        out = {k: strictify(v) for k, v in schema.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        if out.get("pattern") == "^(?i)(abort|warn)?$":  # Go-only syntax in the PrometheusRule CRD
            out["pattern"] = "(?i)^(abort|warn)?$"
        return out
    if isinstance(schema, list):
        return [strictify(v) for v in schema]
    return schema


@cache
def crd_schemas(schemas_dir: Path) -> dict[tuple[str, str], dict]:
    "`(apiVersion, kind) -> strict openAPIV3Schema` for every served version of every vendored CRD."
    out: dict[tuple[str, str], dict] = {}
    for p in sorted(schemas_dir.rglob("*")):
        if p.suffix not in (".yaml", ".yml") or not p.is_file():
            continue
        for doc in yload_all(p.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for v in doc["spec"]["versions"]:
                if v.get("served"):
                    schema = strictify(v["schema"]["openAPIV3Schema"])
                    props = schema.setdefault("properties", {})  # some CRDs leave the envelope out of the schema
                    props.setdefault("apiVersion", {"type": "string"})
                    props.setdefault("kind", {"type": "string"})
                    props.setdefault("metadata", {"type": "object"})
                    out[(f"{group}/{v['name']}", kind)] = schema
    return out


# Kinds with no vendored schema: the fields the runbook relies on are checked structurally instead.
STRUCTURAL = {
    ("barmancloud.cnpg.io/v1", "ObjectStore"): ["spec.configuration.destinationPath",
                                                "spec.configuration.s3Credentials", "spec.retentionPolicy"],
}


def validate_manifest(doc: dict, schemas_dir: Path) -> list[str]:
    "Schema errors of one manifest: CRD schema, bundled Kubernetes schema, or the structural fallback."
    api, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api, str) or not isinstance(kind, str):
        return ["apiVersion and kind must be strings"]
    crds = crd_schemas(schemas_dir.resolve())  # resolved: trees that symlink deploy/schemas share the cache
    if (api, kind) in crds:
        return schema_errors(jsonschema.Draft7Validator(crds[(api, kind)]), doc)
    if (api, kind) in STRUCTURAL:
        return [f"{f}: required (no schema vendored for {kind}; structural check)" for f in STRUCTURAL[(api, kind)]
                if at_path(doc, f) in (None, "", {})]
    if any(a.split("/")[0] == api.split("/")[0] and k == kind for a, k in crds):
        served = sorted(a for a, k in crds if k == kind)
        return [f"{api} is not served for {kind} by the vendored CRD (served: {', '.join(served)})"]
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no schema for {api} {kind}: neither a Kubernetes {K8S_VERSION} kind nor a vendored CRD"]
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(x) for x in e.path) or "<root>"
        return [f"{path}: {e.message[:300]}"]
    return []


def semantic_errors(doc: dict, all_docs: list[dict]) -> list[str]:
    "Project rules the schemas cannot express (namespaces, Strimzi cluster labels, Flink job conventions)."
    errs: list[str] = []
    kind, md = doc.get("kind"), doc.get("metadata") or {}
    if not md.get("name"):
        errs.append("metadata.name is required")
    if kind not in CLUSTER_SCOPED and md.get("namespace") not in NAMESPACES:
        errs.append(f"metadata.namespace must be one of the design's namespaces, got {md.get('namespace')!r}")
    if str(doc.get("apiVersion", "")).startswith("kafka.strimzi.io/") and kind != "Kafka":
        if (md.get("labels") or {}).get("strimzi.io/cluster") != KAFKA_CLUSTER:
            errs.append(f"label strimzi.io/cluster must name the Kafka cluster {KAFKA_CLUSTER!r}")
    if kind in ("FlinkDeployment", "FlinkSessionJob"):
        spec = doc.get("spec") or {}
        conf = spec.get("flinkConfiguration") or {}
        errs += [f"spec.flinkConfiguration.{k}: values must be strings, got {type(v).__name__}"
                 for k, v in conf.items() if not isinstance(v, str)]
        if kind == "FlinkSessionJob" or spec.get("job"):
            errs += _flink_job_errors(spec.get("job") or {}, conf)
        if kind == "FlinkDeployment" and spec.get("job") and conf.get("python.execution-mode") != "thread":
            errs.append("python.execution-mode must be 'thread' (as in local runs)")
        if kind == "FlinkDeployment" and not spec.get("job"):  # a session cluster: the jobs' common settings
            if conf.get("python.execution-mode") != "thread":
                errs.append("python.execution-mode must be 'thread' (as in local runs)")
            if conf.get("high-availability.type") != "kubernetes" or not conf.get("high-availability.storageDir"):
                errs.append("a session cluster needs Kubernetes HA (its jobs survive a JobManager failover)")
            if "pemja." not in str(conf.get("classloader.parent-first-patterns.additional", "")).split(";"):
                errs.append("classloader.parent-first-patterns.additional must include 'pemja.' (several thread-mode "
                            "Python jobs share a TaskManager)")
        if kind == "FlinkSessionJob":
            errs += _session_job_errors(doc, all_docs)
    if kind == "ConfigMap" and (md.get("labels") or {}).get("grafana_dashboard") == "1":
        for name, body in (doc.get("data") or {}).items():
            try:
                json.loads(body)
            except (TypeError, json.JSONDecodeError) as e:
                errs.append(f"data.{name}: dashboard JSON does not parse: {e}")
    return errs


def _flink_job_errors(job: dict, conf: dict) -> list[str]:
    "A PyFlink job (application or session): PythonDriver on a project entry point, savepoint upgrades, state dirs."
    errs = []
    args = job.get("args") or []
    if job.get("entryClass") != PYTHON_DRIVER:
        errs.append("spec.job.entryClass must be the PythonDriver")
    if len(args) != 3 or args[0] != "-pym" or args[1] not in FLINK_ENTRY_POINTS or args[2] != "--cluster":
        errs.append(f"spec.job.args must be ['-pym', <one of {', '.join(FLINK_ENTRY_POINTS)}>, '--cluster'], "
                    f"got {args!r}")
    if job.get("upgradeMode") != "savepoint":
        errs.append("stateful jobs must use upgradeMode: savepoint")
    for key in ("execution.checkpointing.dir", "execution.checkpointing.savepoint-dir"):
        if not conf.get(key):
            errs.append(f"spec.flinkConfiguration.{key} is required (checkpoints and savepoints)")
    return errs


def _session_job_errors(doc: dict, all_docs: list[dict]) -> list[str]:
    "A FlinkSessionJob targets a session cluster of its namespace and uses the cluster's classpath (no jar)."
    spec, ns = doc.get("spec") or {}, (doc.get("metadata") or {}).get("namespace")
    target = spec.get("deploymentName")
    clusters = [d for d in all_docs if d.get("kind") == "FlinkDeployment"
                and (d.get("metadata") or {}).get("name") == target and (d.get("metadata") or {}).get("namespace") == ns]
    errs = []
    if not clusters:
        errs.append(f"spec.deploymentName {target!r}: no FlinkDeployment of that name in {ns}")
    elif (clusters[0].get("spec") or {}).get("job"):
        errs.append(f"spec.deploymentName {target!r} is an application cluster, not a session cluster")
    if (spec.get("job") or {}).get("jarURI"):
        errs.append("spec.job.jarURI must be empty: PythonDriver comes from the session cluster's classpath "
                    "(flink-python in /opt/flink/lib of the image)")
    dirs = {(d.get("spec") or {}).get("flinkConfiguration", {}).get("execution.checkpointing.dir") for d in all_docs
            if d.get("kind") == "FlinkSessionJob" and d is not doc and (d.get("spec") or {}).get("deploymentName") == target}
    if (spec.get("flinkConfiguration") or {}).get("execution.checkpointing.dir") in dirs:
        errs.append("each session job needs its own execution.checkpointing.dir")
    return errs


def check_manifests(root: Path) -> list[Finding]:
    "Parse and validate every manifest under deploy/k8s."
    schemas_dir = root / "deploy" / "schemas"
    findings: list[Finding] = []
    loaded = []
    for p in manifest_files(root):
        docs, errs = load_documents(p)
        findings += [Finding(rel(p, root), "parse", e) for e in errs]
        loaded += [(p, d) for d in docs]
    all_docs = [d for _, d in loaded]
    seen: set[str] = set()
    for p, d in loaded:
        ident = doc_id(d)
        if ident in seen:
            findings.append(Finding(rel(p, root), ident, "duplicate resource"))
        seen.add(ident)
        findings += [Finding(rel(p, root), ident, e) for e in validate_manifest(d, schemas_dir)]
        findings += [Finding(rel(p, root), ident, e) for e in semantic_errors(d, all_docs)]
    return findings
