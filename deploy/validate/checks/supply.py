"""What CI builds and trusts: vendored schemas match upstream, images are pinned and built, workflows run the checks."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .common import Finding, at_path, load_documents, manifest_files, rel, yload


def check_vendored(root: Path) -> list[Finding]:
    "Every vendored schema file matches the SHA256 recorded from the shared store."
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
    if str(at_path(values, "images.airflow.tag")) != version:
        out.append(Finding(rel(values_path, root), "images.airflow.tag", f"must be the project version {version}"))
    return out


def check_workflows(root: Path) -> list[Finding]:
    "CI definitions parse; CI runs `make test`; deploy validates before it applies and verifies what it downloads."
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
    if "deploy.yaml" in texts and "terragrunt_linux_amd64" in texts["deploy.yaml"] and "sha256sum -c" not in texts["deploy.yaml"]:
        out.append(Finding(".github/workflows/deploy.yaml", "steps", "the Terragrunt download must be checksum-verified"))
    return out
