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

Run `python deploy/validate/validate.py` (exit code 1 on any finding) or `--render` to regenerate the generated files.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.35.0"  # the K3s release the runbook installs (docs/DEPLOY.md); kubernetes-validate bundles it
NAMESPACES = ("streamflow-kafka", "streamflow-processing", "streamflow-data", "streamflow-orchestration",
              "streamflow-monitoring")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "PersistentVolume",
                  "CustomResourceDefinition", "PriorityClass"}
NOT_MANIFESTS = {"helm-values", "airflow"}  # folders under deploy/k8s holding Helm values, not manifests
FLINK_ENTRY_POINTS = ("streamflow.jobs.transaction_processor", "streamflow.jobs.fraud_detector",
                      "streamflow.jobs.realtime_aggregator")
PYTHON_DRIVER = "org.apache.flink.client.python.PythonDriver"
GENERATED_TOPICS = Path("deploy/k8s/kafka/topics.yaml")
GENERATED_DASHBOARDS = Path("deploy/k8s/monitoring/dashboards.yaml")
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


# ------------------------------------------------------------------------------------------------ CRD schemas
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


def _schema_errors(validator: jsonschema.protocols.Validator, doc: dict) -> list[str]:
    errs = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(str(x) for x in e.absolute_path) or '<root>'}: {e.message[:300]}" for e in errs]


# Kinds with no vendored schema: the fields the runbook relies on are checked structurally instead.
STRUCTURAL = {
    ("barmancloud.cnpg.io/v1", "ObjectStore"): ["spec.configuration.destinationPath",
                                                "spec.configuration.s3Credentials", "spec.retentionPolicy"],
}


def _get(doc: Any, dotted: str) -> Any:
    for k in dotted.split("."):
        if not isinstance(doc, dict) or k not in doc:
            return None
        doc = doc[k]
    return doc


def validate_manifest(doc: dict, schemas_dir: Path) -> list[str]:
    "Schema errors of one manifest: CRD schema, bundled Kubernetes schema, or the structural fallback."
    api, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api, str) or not isinstance(kind, str):
        return ["apiVersion and kind must be strings"]
    crds = crd_schemas(schemas_dir.resolve())  # resolved: trees that symlink deploy/schemas share the cache
    if (api, kind) in crds:
        return _schema_errors(jsonschema.Draft7Validator(crds[(api, kind)]), doc)
    if (api, kind) in STRUCTURAL:
        return [f"{f}: required (no schema vendored for {kind}; structural check)" for f in STRUCTURAL[(api, kind)]
                if _get(doc, f) in (None, "", {})]
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


# ------------------------------------------------------------------------------------------------ Helm values
def deep_merge(base: Any, over: Any) -> Any:
    "Helm's merge of a values override onto chart defaults: maps merge, everything else replaces."
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base.get(k), v) if k in base else v
        return out
    return over


def check_airflow_values(root: Path) -> list[Finding]:
    "The Airflow values file, merged over the chart defaults, against the chart's values.schema.json."
    chart = root / "deploy" / "schemas" / "airflow-chart" / "1.21.0"
    path = root / "deploy" / "k8s" / "airflow" / "values.yaml"
    docs, errs = load_documents(path)
    if errs or len(docs) != 1:
        return [Finding(rel(path, root), "parse", e) for e in errs or ["expected exactly one YAML document"]]
    values = deep_merge(yload((chart / "values.yaml").read_text()), docs[0])
    schema = json.loads((chart / "values.schema.json").read_text())
    schema.setdefault("additionalProperties", False)  # the schema is strict below the root, not at it
    out = [Finding(rel(path, root), "values.schema.json", e)
           for e in _schema_errors(jsonschema.Draft7Validator(schema), values)]
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
    docs, errs = load_documents(path)
    if errs or len(docs) != 1:
        return [Finding(rel(path, root), "parse", e) for e in errs or ["expected exactly one YAML document"]]
    subcharts = {d.get("alias") or d["name"] for d in yload((chart / "Chart.yaml").read_text())["dependencies"]}
    reference = yload((chart / "values.yaml").read_text())
    open_keys = {"prometheus.prometheusSpec.resources", "alertmanager.alertmanagerSpec.resources",
                 "prometheusOperator.resources", "prometheus.prometheusSpec.storageSpec"} | subcharts
    return [Finding(rel(path, root), k, "not a key of the chart's values.yaml") for k in
            unknown_keys(docs[0], reference, open_keys)]


def check_helm_values_parse(root: Path) -> list[Finding]:
    "Every Helm values file parses to one mapping."
    out = []
    for p in sorted((root / "deploy" / "k8s" / "helm-values").glob("*.yaml")):
        docs, errs = load_documents(p)
        out += [Finding(rel(p, root), "parse", e) for e in errs]
        if not errs and len(docs) != 1:
            out.append(Finding(rel(p, root), "parse", "expected exactly one YAML document"))
    return out


# ------------------------------------------------------------------------------------------------ HCL
TERRAGRUNT_ORDER = ["namespaces", "strimzi-kafka", "flink-operator", "cloudnativepg", "airflow", "monitoring"]


def hcl_files(root: Path) -> list[Path]:
    "Every .tf and .hcl file under deploy/terraform (Terragrunt caches excluded)."
    base = root / "deploy" / "terraform"
    return sorted(p for p in base.rglob("*") if p.suffix in (".tf", ".hcl") and ".terragrunt-cache" not in p.parts)


def _unquote(s: str) -> str:
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] == '"' else s


def _blocks(parsed: dict, kind: str) -> Iterator[tuple[str, str, dict]]:
    for entry in parsed.get(kind, []):
        for type_, named in entry.items():
            for name, body in named.items():
                yield _unquote(type_), _unquote(name), body


MANIFESTS_MODULE = "manifests"  # the shared module: applies every document of the files it is given
K8S_PREFIX = "${var.k8s_dir}/"


def _module_calls(tf: Path) -> Iterator[tuple[str, dict]]:
    "(name, body) of every `module` block of a .tf file that calls the shared manifests module."
    try:
        parsed = hcl2.loads(tf.read_text(encoding="utf-8"))
    except Exception:  # reported by check_hcl
        return
    for entry in parsed.get("module", []):
        for name, body in entry.items():
            if _unquote(str(body.get("source", ""))).rstrip("/").split("/")[-1] == MANIFESTS_MODULE:
                yield _unquote(name), body


def terraform_k8s_files(root: Path) -> dict[str, str]:
    "`deploy/k8s` file -> the module that applies it (`files` of its manifests module call) or reads it (`file()`)."
    out: dict[str, str] = {}
    for tf in sorted((root / "deploy" / "terraform" / "modules").glob("*/*.tf")):
        if tf.parent.name == MANIFESTS_MODULE:
            continue
        for _, body in _module_calls(tf):
            for f in body.get("files") or []:
                f = _unquote(str(f))
                if f.startswith(K8S_PREFIX):
                    out[f[len(K8S_PREFIX):]] = tf.parent.name
        for m in re.finditer(r'file\("\$\{var\.k8s_dir\}/([\w./-]+?)"\)', tf.read_text(encoding="utf-8")):
            out[m.group(1)] = tf.parent.name  # Helm values and the namespaces unit's own manifest
    return out


def check_manifest_modules(root: Path) -> list[Finding]:
    "Each call of the shared manifests module lists deploy/k8s files and waits for a Helm release of its unit."
    out = []
    modules = root / "deploy" / "terraform" / "modules"
    if not (modules / MANIFESTS_MODULE / "main.tf").is_file():
        return [Finding(rel(modules, root), MANIFESTS_MODULE, "the shared manifests module is missing")]
    shared = "\n".join(p.read_text(encoding="utf-8") for p in (modules / MANIFESTS_MODULE).glob("*.tf"))
    if "var.k8s_dir" in shared or 'resource "kubectl_manifest"' not in shared:
        out.append(Finding(rel(modules / MANIFESTS_MODULE, root), "main.tf",
                           "the shared module applies the files it is given (kubectl_manifest) and names none itself"))
    for tf in sorted(modules.glob("*/*.tf")):
        for name, body in _module_calls(tf):
            files = [_unquote(str(f)) for f in body.get("files") or []]
            if not files or not all(f.startswith(K8S_PREFIX) for f in files):
                out.append(Finding(rel(tf, root), f"module.{name}", f"files must be {K8S_PREFIX}... paths"))
            deps = [str(d) for d in body.get("depends_on") or []]
            if not any("helm_release." in d for d in deps):
                out.append(Finding(rel(tf, root), f"module.{name}", "must depend on the Helm release of the operator "
                                   "that serves its kinds (depends_on), or its resources are applied before the CRDs"))
    return out


def check_applied_files(root: Path) -> list[Finding]:
    "Every file a module reads exists, and every manifest and values file under deploy/k8s is applied by a module."
    used = terraform_k8s_files(root)
    base = root / "deploy" / "k8s"
    out = [Finding(f"deploy/terraform/modules/{mod}", path, "reads a deploy/k8s file that does not exist")
           for path, mod in used.items() if not (base / path).is_file()]
    for p in sorted(base.rglob("*.yaml")):
        r = str(p.relative_to(base))
        if r not in used:
            out.append(Finding(f"deploy/k8s/{r}", "terraform", "no Terraform module applies this file"))
    return out + check_manifest_modules(root)


def check_hcl(root: Path) -> list[Finding]:
    "HCL parses; Helm releases pin versions; Terragrunt units exist and depend on each other in the design's order."
    out: list[Finding] = []
    parsed: dict[Path, dict] = {}
    files = hcl_files(root)
    if not files:
        return [Finding("deploy/terraform", "-", "no .tf or .hcl files")]
    for p in files:
        try:
            parsed[p] = hcl2.loads(p.read_text(encoding="utf-8"))
        except Exception as e:  # hcl2 raises lark errors of several types
            out.append(Finding(rel(p, root), "parse", f"HCL does not parse: {str(e).splitlines()[0][:300]}"))
    for p, doc in parsed.items():
        for type_, name, body in _blocks(doc, "resource"):
            if type_ == "helm_release" and not str(body.get("version", "")).strip():
                out.append(Finding(rel(p, root), f"helm_release.{name}", "chart version must be pinned"))
    out += check_applied_files(root)
    modules = root / "deploy" / "terraform" / "modules"
    env = root / "deploy" / "terraform" / "environments" / "dev"
    for i, unit in enumerate(TERRAGRUNT_ORDER):
        if not (modules / unit).is_dir():
            out.append(Finding(rel(modules, root), unit, "module missing"))
        tg = env / unit / "terragrunt.hcl"
        if tg not in parsed:
            out.append(Finding(rel(tg, root), unit, "terragrunt unit missing or unparsable"))
            continue
        deps = {_unquote(n) for entry in parsed[tg].get("dependency", []) for n in entry}
        deps |= {_unquote(str(x)).split("/")[-1] for entry in parsed[tg].get("dependencies", [])
                 for x in entry.get("paths", [])}
        want = set(TERRAGRUNT_ORDER[i - 1:i])
        if not want <= deps:
            out.append(Finding(rel(tg, root), unit, f"must depend on {sorted(want)} (design order), has {sorted(deps)}"))
        later = deps & set(TERRAGRUNT_ORDER[i + 1:])
        if later:
            out.append(Finding(rel(tg, root), unit, f"depends on later units {sorted(later)}: order is violated"))
    return out


# ------------------------------------------------------------------------------------------------ generated files
def load_topics(root: Path) -> dict[str, Any]:
    "The local topic config (single source of truth): `load_config().kafka.topics`."
    sys.path.insert(0, str(root))
    from streamflow.config import load_config

    return load_config(root=root, environ={}).kafka.topics.model_dump()


def render_topics(topics: dict[str, Any]) -> str:
    "KafkaTopic manifests for the topics of config/default.yaml."
    head = ("# GENERATED by `python deploy/validate/validate.py --render` from config/default.yaml kafka.topics.\n"
            "# Do not edit: change the config and re-render (tests/deploy checks they match).\n")
    docs = []
    for key, t in topics.items():
        config: dict[str, Any] = {"cleanup.policy": t["cleanup_policy"]}
        if t.get("retention_ms") is not None:
            config["retention.ms"] = t["retention_ms"]
        if t.get("max_message_bytes") is not None:
            config["max.message.bytes"] = t["max_message_bytes"]
        docs.append({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic",
                     "metadata": {"name": t["name"].replace(".", "-"), "namespace": "streamflow-kafka",
                                  "labels": {"strimzi.io/cluster": KAFKA_CLUSTER, "streamflow.io/topic-key": key}},
                     "spec": {"topicName": t["name"], "partitions": t["partitions"], "replicas": 1, "config": config}})
    return head + "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)


class _BlockDumper(yaml.SafeDumper):
    "Dumps multi-line strings as `|` blocks, so the dashboard JSON stays readable in the ConfigMaps."


_BlockDumper.add_representer(str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None))


def render_dashboards(root: Path) -> str:
    "One ConfigMap per dashboard JSON, labelled for the Grafana sidecar."
    head = ("# GENERATED by `python deploy/validate/validate.py --render` from deploy/k8s/monitoring/dashboards/*.json.\n"
            "# Do not edit: change the JSON and re-render (tests/deploy checks they match).\n")
    docs = []
    for p in sorted((root / DASHBOARD_DIR).glob("*.json")):
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": f"grafana-dashboard-{p.stem}", "namespace": "streamflow-monitoring",
                                  "labels": {"grafana_dashboard": "1", "app.kubernetes.io/part-of": "streamflow"},
                                  "annotations": {"grafana_folder": "StreamFlow"}},
                     "data": {p.name: p.read_text(encoding="utf-8")}})
    return head + "---\n".join(yaml.dump(d, Dumper=_BlockDumper, sort_keys=False, width=1000) for d in docs)


def rendered(root: Path) -> dict[Path, str]:
    "What each generated file must contain."
    return {GENERATED_TOPICS: render_topics(load_topics(root)), GENERATED_DASHBOARDS: render_dashboards(root)}


def check_rendered(root: Path) -> list[Finding]:
    "The committed generated files equal a fresh render."
    out = []
    for path, text in rendered(root).items():
        p = root / path
        if not p.is_file() or p.read_text(encoding="utf-8") != text:
            out.append(Finding(str(path), "generated", "out of date: run `python deploy/validate/validate.py --render`"))
    return out


# ------------------------------------------------------------------------------------------------ metrics
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


# ------------------------------------------------------------------------------------------------ budget
_BIN = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def cpu(q: Any) -> float:
    "Kubernetes CPU quantity in cores (`100m` -> 0.1)."
    s = str(q)
    return float(s[:-1]) / 1000 if s.endswith("m") else float(s)


def mem(q: Any) -> float:
    "Kubernetes memory quantity in bytes (`512Mi`, `1G`, `9.7GB`)."
    s = str(q).strip().removesuffix("B")
    for suffix, factor in sorted(_BIN.items(), key=lambda kv: -len(kv[0])):
        if s.endswith(suffix):
            return float(s[: -len(suffix)]) * factor
    return float(s)


def flink_mem(q: str) -> float:
    "Flink memory size in bytes (`512m` is 512 MiB in Flink's syntax)."
    m = re.fullmatch(r"\s*([\d.]+)\s*([kmgt]?)b?\s*", str(q).lower())
    if not m:
        raise ValueError(f"not a Flink memory size: {q!r}")
    return float(m.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2)]


@dataclass
class Usage:
    "Requests and limits of one container (or of `count` identical ones: the figures are their sums)."
    name: str
    req_cpu: float
    req_mem: float
    lim_cpu: float
    lim_mem: float
    count: int = 1


def _res(name: str, res: dict | None, times: int = 1) -> Usage:
    res = res or {}
    r, li = res.get("requests") or {}, res.get("limits") or {}
    rc, rm = cpu(r.get("cpu", 0)), mem(r.get("memory", 0))
    return Usage(name + (f" x{times}" if times != 1 else ""), rc * times, rm * times,
                 cpu(li.get("cpu", rc)) * times, mem(li.get("memory", rm)) * times, times)


def manifest_usage(docs: Iterable[dict]) -> list[Usage]:
    "Long-running containers the manifests create (operator-managed pods included)."
    docs = list(docs)
    out: list[Usage] = []
    for d in docs:
        kind, spec, name = d.get("kind"), d.get("spec") or {}, (d.get("metadata") or {}).get("name")
        if kind == "KafkaNodePool":
            out.append(_res(f"kafka/{name}", spec.get("resources"), int(spec.get("replicas", 1))))
        elif kind == "Kafka":
            eo = spec.get("entityOperator") or {}
            for op in ("topicOperator", "userOperator"):
                if op in eo:
                    out.append(_res(f"kafka/entity-{op}", eo[op].get("resources")))
            if "kafkaExporter" in spec:
                out.append(_res("kafka/exporter", spec["kafkaExporter"].get("resources")))
        elif kind == "FlinkDeployment":
            conf = spec.get("flinkConfiguration") or {}
            slots = int(conf.get("taskmanager.numberOfTaskSlots", 1))
            if spec.get("job"):  # application cluster: its own job's slots
                slots_needed = int(spec["job"].get("parallelism", 1))
            else:  # session cluster: the slots of the session jobs that target it
                slots_needed = sum(int((j["spec"].get("job") or {}).get("parallelism", 1)) for j in docs
                                   if j.get("kind") == "FlinkSessionJob" and j["spec"].get("deploymentName") == name
                                   and j["metadata"].get("namespace") == d["metadata"].get("namespace"))
            tms = int(spec["taskManager"].get("replicas") or math.ceil(slots_needed / slots))
            for role, n in (("jobmanager", int(spec["jobManager"].get("replicas", 1))), ("taskmanager", tms)):
                r = spec["jobManager" if role == "jobmanager" else "taskManager"]["resource"]
                c, m = float(r["cpu"]), flink_mem(r["memory"])
                cf = float(conf.get(f"kubernetes.{role}.cpu.limit-factor", 1))
                mf = float(conf.get(f"kubernetes.{role}.memory.limit-factor", 1))
                out.append(Usage(f"flink/{name}/{role}" + (f" x{n}" if n != 1 else ""), c * n, m * n,
                                 c * cf * n, m * mf * n, n))
        elif kind == "Cluster" and str(d.get("apiVersion", "")).startswith("postgresql.cnpg.io"):
            n = int(spec.get("instances", 1))
            out.append(_res(f"postgres/{name}", spec.get("resources"), n))
            for plugin in spec.get("plugins") or []:
                store = (plugin.get("parameters") or {}).get("barmanObjectName")
                for s in docs:
                    if s.get("kind") == "ObjectStore" and s["metadata"]["name"] == store:
                        sc = (s["spec"].get("instanceSidecarConfiguration") or {}).get("resources")
                        out.append(_res(f"postgres/{name}/barman-sidecar", sc, n))
    return out


def values_usage(root: Path, budget: dict) -> list[Usage]:
    "Containers of the Helm releases, from each values file at the paths `budget.yaml` lists."
    out = []
    for release, spec in budget["helm_releases"].items():
        values = yload((root / spec["values"]).read_text())
        for entry in spec["resources"]:
            path, _, n = str(entry).partition("*")
            res = _get(values, path)
            if res is None:
                raise KeyError(f"{spec['values']}: no resources at {path}")
            out.append(_res(f"{release}/{path}", res, int(n or 1)))
    for name, res in (budget.get("fixed") or {}).items():
        out.append(_res(name, res))
    return out


def usage(root: Path) -> tuple[list[Usage], dict]:
    "Every container counted against the budget, and the budget itself."
    budget = yload((root / "deploy" / "budget.yaml").read_text())
    docs = [d for p in manifest_files(root) for d in load_documents(p)[0]]
    return manifest_usage(docs) + values_usage(root, budget), budget


def totals(items: list[Usage]) -> dict[str, float]:
    "Summed requests and limits (cores, bytes)."
    return {k: sum(getattr(u, k) for u in items) for k in ("req_cpu", "req_mem", "lim_cpu", "lim_mem")}


def allocatable(budget: dict) -> tuple[float, float]:
    "The node's allocatable CPU (cores) and memory (bytes): node minus the system reservation."
    node, reserved = budget["node"], budget["system_reserved"]
    return cpu(node["cpu"]) - cpu(reserved["cpu"]), mem(node["memory"]) - mem(reserved["memory"])


BUDGET_KEYS = {"node", "system_reserved", "requests", "tolerance", "memory_limit_overcommit", "helm_releases", "fixed"}


def request_ceilings(budget: dict) -> tuple[float, float]:
    "What the summed requests may reach: the design's budget x (1 + tolerance); there is no other slack."
    tol = float(budget.get("tolerance", 0))
    if not 0 <= tol <= 0.1:
        raise ValueError(f"tolerance {tol} must be a small fraction (at most 0.1)")
    return cpu(budget["requests"]["cpu"]) * (1 + tol), mem(budget["requests"]["memory"]) * (1 + tol)


def switched_off(values: dict, path: str) -> str | None:
    "The `x.enabled` key that switches off the component whose resources are at `path`, if any."
    parts = path.split(".")[:-1]
    for i in range(len(parts), 0, -1):
        if _get(values, ".".join(parts[:i]) + ".enabled") is False:
            return ".".join(parts[:i]) + ".enabled"
    return None


def unlisted_components(values: Any, listed: set[str], prefix: str = "") -> list[str]:
    "Resources paths of components the values switch on (`enabled: true` next to `resources`) that are not listed."
    if not isinstance(values, dict):
        return []
    out = []
    if values.get("enabled") is True and "resources" in values and f"{prefix}resources" not in listed:
        out.append(f"{prefix}resources")
    for k, v in values.items():
        out += unlisted_components(v, listed, f"{prefix}{k}.")
    return out


def check_budget(root: Path) -> list[Finding]:
    "Requests within the design's budget; every limit within the node; summed memory limits within the overcommit."
    items, budget = usage(root)
    t = totals(items)
    alloc_cpu, alloc_mem = allocatable(budget)
    ceil_cpu, ceil_mem = request_ceilings(budget)
    over = float(budget["memory_limit_overcommit"])
    out = []

    def fail(where: str, msg: str) -> None:
        out.append(Finding("deploy/budget.yaml", where, msg))

    for key in sorted(set(budget) - BUDGET_KEYS):
        fail(key, "not a budget key: the requests fit the design's budget with no residual or other slack")
    for release, spec in budget["helm_releases"].items():
        values = yload((root / spec["values"]).read_text())
        listed = {str(e).partition("*")[0] for e in spec["resources"]}
        for path in sorted(listed):
            if (off := switched_off(values, path)) is not None:
                fail(f"{release}/{path}", f"counted, but {off} is false in {spec['values']}")
        for path in unlisted_components(values, listed):
            fail(f"{release}/{path}", "enabled in the values but not counted in budget.yaml helm_releases")
    if t["req_cpu"] > min(ceil_cpu, alloc_cpu) + 1e-9:
        fail("requests.cpu", f"requests sum to {t['req_cpu']:.3f} CPU > {ceil_cpu:.3f} allowed "
                             f"(design {budget['requests']['cpu']} + tolerance)")
    if t["req_mem"] > min(ceil_mem, alloc_mem) + 0.5:
        fail("requests.memory", f"requests sum to {t['req_mem'] / 2**30:.2f} GiB > {ceil_mem / 2**30:.2f} GiB allowed "
                                f"(design {budget['requests']['memory']} + tolerance)")
    if not 1 <= over <= 1.5:
        fail("memory_limit_overcommit", f"{over} must be between 1 and 1.5")
    if t["lim_mem"] > alloc_mem * over + 0.5:
        fail("limits.memory", f"memory limits sum to {t['lim_mem'] / 2**30:.2f} GiB > {over} x "
                              f"{alloc_mem / 2**30:.2f} GiB allocatable")
    for u in items:
        if u.lim_cpu + 1e-9 < u.req_cpu or u.lim_mem < u.req_mem:
            fail(u.name, "limit below request")
        if u.lim_cpu / u.count > alloc_cpu + 1e-9 or u.lim_mem / u.count > alloc_mem:
            fail(u.name, "a single container's limit exceeds the node's allocatable resources")
    return out


def budget_report(root: Path) -> str:
    "A table of every container's requests and limits, the totals, and how they compare with the budget."
    items, budget = usage(root)
    lines = [f"{'container':62} {'req cpu':>8} {'req MiB':>8} {'lim cpu':>8} {'lim MiB':>8}"]
    for u in items:
        lines.append(f"{u.name:62} {u.req_cpu:8.3f} {u.req_mem / 2**20:8.0f} {u.lim_cpu:8.3f} {u.lim_mem / 2**20:8.0f}")
    t = totals(items)
    lines.append(f"{'TOTAL':62} {t['req_cpu']:8.3f} {t['req_mem'] / 2**20:8.0f} {t['lim_cpu']:8.3f} {t['lim_mem'] / 2**20:8.0f}")
    alloc_cpu, alloc_mem = allocatable(budget)
    d, tol = budget["requests"], float(budget.get("tolerance", 0))
    lines.append(f"requests: {t['req_cpu']:.2f} CPU / {t['req_mem'] / 2**30:.2f} GiB; design budget {d['cpu']} CPU / "
                 f"{d['memory']} (+{tol:.0%} tolerance)")
    free_cpu, free_mem = cpu(d["cpu"]) - t["req_cpu"], mem(d["memory"]) - t["req_mem"]
    lines.append(f"{'headroom' if min(free_cpu, free_mem) >= 0 else 'OVER'} against the bare design budget: "
                 f"{free_cpu:+.3f} CPU, {free_mem / 2**20:+.0f} MiB")
    lines.append(f"limits: memory {t['lim_mem'] / 2**30:.2f} GiB = {t['lim_mem'] / alloc_mem:.2f} x allocatable "
                 f"{alloc_mem / 2**30:.2f} GiB (at most {budget['memory_limit_overcommit']} x); CPU limits are "
                 f"compressible and not summed against the {alloc_cpu:.1f} allocatable cores")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ schemas provenance
def check_vendored(root: Path) -> list[Finding]:
    "Every vendored schema file matches the SHA256 recorded from the shared store."
    import hashlib

    base = root / "deploy" / "schemas"
    out = []
    listed = set()
    for line in (base / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed.add(name)
        p = base / name
        if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != digest:
            out.append(Finding(f"deploy/schemas/{name}", "sha256", "missing or modified (must equal upstream)"))
    for p in base.rglob("*"):
        n = str(p.relative_to(base))
        if p.is_file() and n not in listed and n not in ("README.md", "SHA256SUMS"):
            out.append(Finding(f"deploy/schemas/{n}", "sha256", "not listed in SHA256SUMS"))
    return out


# ------------------------------------------------------------------------------------------------ images
def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    "(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."
    out: list[tuple[str, str]] = []
    buf = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") and not buf:
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued RUN
        buf += line.rstrip()
        if buf.endswith("\\"):
            buf = buf[:-1] + " "
            continue
        if buf.strip():
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def _pin(root: Path, package: str) -> str | None:
    m = re.search(rf"^{re.escape(package)}==(\S+)", (root / "requirements" / "constraints.txt").read_text(), re.M)
    return m.group(1) if m else None


def _project_version(root: Path) -> str:
    m = re.search(r"^version\s*=\s*(\S+)", (root / "settings.ini").read_text(), re.M)
    return m.group(1) if m else "?"


OWN_IMAGES = "ghcr.io/streamflow/"  # the images deploy/docker builds


def _images(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    "(path, value) of every `image` field in a manifest."
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{path}.{k}" if path else k
            if k == "image" and isinstance(v, str):
                yield here, v
            else:
                yield from _images(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _images(v, f"{path}[{i}]")


def check_docker(root: Path) -> list[Finding]:
    "Dockerfiles: pinned base images, COPY sources exist; images, Flink and Airflow versions agree everywhere."
    out: list[Finding] = []
    ddir = root / "deploy" / "docker"
    args: dict[str, dict[str, str]] = {}
    for name in ("flink.Dockerfile", "airflow.Dockerfile"):
        path = ddir / name
        if not path.is_file():
            out.append(Finding(rel(path, root), "-", "missing"))
            continue
        args[name] = {}
        for ins, rest in dockerfile_instructions(path):
            if ins == "ARG" and "=" in rest:
                k, v = rest.split("=", 1)
                args[name][k] = v
                if k.endswith("_IMAGE") and (":" not in v or v.endswith(":latest")):
                    out.append(Finding(rel(path, root), f"ARG {k}", "base image must be pinned to a tag"))
            if ins == "COPY" and "--from=" not in rest:
                srcs = [a for a in rest.split() if not a.startswith("--")][:-1]
                out += [Finding(rel(path, root), f"COPY {src}", "source does not exist in the repository")
                        for src in srcs if not (root / src).exists()]
    flink_tag = args.get("flink.Dockerfile", {}).get("FLINK_IMAGE", "").partition(":")[2].split("-")[0]
    airflow_tag = (args.get("airflow.Dockerfile", {}).get("AIRFLOW_IMAGE", "").partition(":")[2]
                   .removeprefix("slim-").split("-")[0])  # apache/airflow:[slim-]<version>-python<x.y>
    version = _project_version(root)
    session_jobs = False
    if flink_tag and flink_tag != _pin(root, "apache-flink"):
        out.append(Finding("deploy/docker/flink.Dockerfile", "FLINK_IMAGE",
                           f"Flink {flink_tag} but apache-flink is pinned to {_pin(root, 'apache-flink')}"))
    for p in manifest_files(root):
        for d in load_documents(p)[0]:
            for where, image in _images(d):
                if image.startswith(OWN_IMAGES) and not image.endswith(f":{version}"):
                    out.append(Finding(rel(p, root), where, f"tag of {image} must be the project version {version}"))
            if d.get("kind") == "FlinkSessionJob":
                session_jobs = True
            if d.get("kind") != "FlinkDeployment" or not (d.get("spec") or {}).get("job"):
                continue
            jar = str(d["spec"]["job"].get("jarURI", ""))
            if f"flink-python-{flink_tag}.jar" not in jar:
                out.append(Finding(rel(p, root), "spec.job.jarURI", f"must be the image's flink-python-{flink_tag}.jar"))
    runs = " ".join(rest for ins, rest in dockerfile_instructions(ddir / "flink.Dockerfile")
                    if ins == "RUN") if (ddir / "flink.Dockerfile").is_file() else ""
    if session_jobs and not re.search(rf"\bcp \S*flink-python-{re.escape(flink_tag)}\.jar /opt/flink/lib/?(\s|$)", runs):
        out.append(Finding("deploy/docker/flink.Dockerfile", "flink-python",
                           f"session jobs need flink-python-{flink_tag}.jar copied to /opt/flink/lib (PythonDriver on "
                           "the cluster's classpath; it must stay in opt/, where Flink looks for it)"))
    if re.search(r"\bmv \S*flink-python", runs):
        out.append(Finding("deploy/docker/flink.Dockerfile", "flink-python",
                           "flink-python must stay in /opt/flink/opt: Flink adds it from there to every Python job"))
    values_path = root / "deploy" / "k8s" / "airflow" / "values.yaml"
    values = yload(values_path.read_text())
    if str(values.get("airflowVersion")) != airflow_tag or airflow_tag != _pin(root, "apache-airflow"):
        out.append(Finding(rel(values_path, root), "airflowVersion",
                           f"values {values.get('airflowVersion')}, image {airflow_tag}, pin {_pin(root, 'apache-airflow')}"))
    if str(_get(values, "images.airflow.tag")) != version:
        out.append(Finding(rel(values_path, root), "images.airflow.tag", f"must be the project version {version}"))
    return out


def check_workflows(root: Path) -> list[Finding]:
    "CI definitions parse; CI runs `make test`; deploy validates before it applies."
    out = []
    wf = root / ".github" / "workflows"
    texts = {}
    for name in ("ci.yaml", "deploy.yaml"):
        p = wf / name
        docs, errs = load_documents(p) if p.is_file() else ([], ["missing"])
        out += [Finding(rel(p, root), "parse", e) for e in errs]
        if docs:
            jobs = docs[0].get("jobs") or {}
            texts[name] = "\n".join(str(step.get("run", "")) for job in jobs.values() for step in job.get("steps", []))
            if not jobs:
                out.append(Finding(rel(p, root), "jobs", "a workflow needs jobs"))
    if "ci.yaml" in texts and "make test" not in texts["ci.yaml"]:
        out.append(Finding(".github/workflows/ci.yaml", "steps", "CI must run `make test`"))
    if "deploy.yaml" in texts and "deploy/validate/validate.py" not in texts["deploy.yaml"]:
        out.append(Finding(".github/workflows/deploy.yaml", "steps", "deploy must run the offline validation first"))
    return out


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
