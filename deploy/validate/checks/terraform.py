"""Terraform / Terragrunt: HCL parses, charts are pinned, the modules apply what exists, in the design's order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import hcl2

from .common import Finding, rel

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
