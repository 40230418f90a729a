"""Pod Security, network isolation and Kafka authentication (issue 18): what this repository defines meets
`restricted`, every StreamFlow namespace starts from default-deny ingress and carries Pod Security Admission labels,
and every Kafka listener authenticates its clients under an authorizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .common import Finding, doc_id, load_documents, manifest_files, rel, yload
from .manifests import NAMESPACES

PSA = "pod-security.kubernetes.io/"
WORKLOADS = {"Job", "CronJob", "Deployment", "StatefulSet", "DaemonSet"}


def pod_specs(doc: dict) -> list[tuple[str, dict]]:
    "The pod specs a manifest defines, with where they are: workload templates and a FlinkDeployment's podTemplate."
    spec = doc.get("spec") or {}
    if doc.get("kind") in WORKLOADS:
        tpl = spec.get("jobTemplate", {}).get("spec", spec) if doc["kind"] == "CronJob" else spec
        return [("spec.template.spec", (tpl.get("template") or {}).get("spec") or {})]
    if doc.get("kind") == "FlinkDeployment":
        return [("spec.podTemplate.spec", (spec.get("podTemplate") or {}).get("spec") or {})]
    return []


def restricted_problems(pod: dict, containers: list[dict], defaults: dict | None = None) -> list[str]:
    "Why a pod spec and its containers fall short of Pod Security `restricted` ([] when they meet it)."
    defaults = defaults or {}
    psc = pod.get("securityContext") or {}
    out = [f"{k} is not allowed" for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k)]
    if not psc.get("runAsNonRoot"):
        out.append("securityContext.runAsNonRoot must be true")
    for c in containers:
        csc = {**defaults, **(c.get("securityContext") or {})}
        name = c.get("name", "?")
        if csc.get("allowPrivilegeEscalation") is not False:
            out.append(f"container {name}: allowPrivilegeEscalation must be false")
        if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
            out.append(f"container {name}: capabilities must drop ALL")
        if csc.get("privileged"):
            out.append(f"container {name}: privileged")
        seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"container {name}: seccompProfile must be RuntimeDefault (pod or container)")
    return out


def check_pod_security(root: Path) -> list[Finding]:
    "Every pod spec in deploy/k8s and the Airflow chart's security contexts meet Pod Security `restricted`."
    out = []
    for p in manifest_files(root):
        docs, _ = load_documents(p)
        for doc in docs:
            for where, pod in pod_specs(doc):
                containers = (pod.get("containers") or []) + (pod.get("initContainers") or [])
                out += [Finding(rel(p, root), f"{doc_id(doc)} {where}", m) for m in restricted_problems(pod, containers)]
    values_path = root / "deploy" / "k8s" / "airflow" / "values.yaml"
    values: Any = yload(values_path.read_text())
    sc = values.get("securityContexts") or {}
    chart_pod = {"securityContext": sc.get("pod") or {}}
    chart_container = {"name": "every chart container", "securityContext": sc.get("containers") or {}}
    out += [Finding(rel(values_path, root), "securityContexts", m)
            for m in restricted_problems(chart_pod, [chart_container])]
    extra = (values.get("apiServer") or {}).get("extraInitContainers") or []
    out += [Finding(rel(values_path, root), "apiServer.extraInitContainers", m)
            for m in restricted_problems(chart_pod, extra)]
    return out


def check_namespace_isolation(root: Path) -> list[Finding]:
    "Each StreamFlow namespace: Pod Security labels (warn and audit `restricted`) and a default-deny ingress policy."
    base = root / "deploy" / "k8s" / "namespaces"
    ns_docs, _ = load_documents(base / "namespaces.yaml")
    labels = {d["metadata"]["name"]: (d["metadata"].get("labels") or {}) for d in ns_docs if d.get("kind") == "Namespace"}
    pol_path = base / "network-policies.yaml"
    pols, _ = load_documents(pol_path) if pol_path.is_file() else ([], [])
    out = []
    for ns in NAMESPACES:
        lab = labels.get(ns, {})
        if lab.get(PSA + "enforce") not in ("restricted", "baseline", "privileged"):
            out.append(Finding(rel(base / "namespaces.yaml", root), ns, "no pod-security.kubernetes.io/enforce level"))
        for mode in ("warn", "audit"):
            if lab.get(PSA + mode) != "restricted":
                out.append(Finding(rel(base / "namespaces.yaml", root), ns, f"pod-security {mode} must be restricted"))
        deny = [d for d in pols if d.get("kind") == "NetworkPolicy" and d["metadata"].get("namespace") == ns
                and (d.get("spec") or {}).get("podSelector") == {} and "Ingress" in (d["spec"].get("policyTypes") or [])
                and not d["spec"].get("ingress")]
        if not deny:
            out.append(Finding(rel(pol_path, root), ns, "no default-deny ingress NetworkPolicy"))
    return out


def check_kafka_auth(root: Path) -> list[Finding]:
    "Every listener of the Kafka cluster authenticates (no anonymous client) and an authorizer applies the ACLs."
    path = root / "deploy" / "k8s" / "kafka" / "kafka.yaml"
    docs, _ = load_documents(path)
    out = []
    for doc in (d for d in docs if d.get("kind") == "Kafka"):
        kafka = (doc.get("spec") or {}).get("kafka") or {}
        for lst in kafka.get("listeners") or []:
            if not (lst.get("authentication") or {}).get("type"):
                out.append(Finding(rel(path, root), f"{doc_id(doc)} listener {lst.get('name')}",
                                   "no authentication: any client that reaches it is anonymous"))
        if not (kafka.get("authorization") or {}).get("type"):
            out.append(Finding(rel(path, root), doc_id(doc), "no authorization: every user may do everything"))
    return out
