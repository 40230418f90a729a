"""The single node's resource budget: summed requests, limits and overcommit (`deploy/budget.yaml`)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import Finding, at_path, load_documents, manifest_files, yload

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
            res = at_path(values, path)
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
        if at_path(values, ".".join(parts[:i]) + ".enabled") is False:
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
