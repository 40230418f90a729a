"""The package stays easy to walk: small modules, one notebook per module that nbdev_test runs, PyFlink only where a
module runs inside Flink, and an import graph that follows the data path (a module never imports one further down
the line: the warehouse does not import the generator, the batch layer does not import the jobs)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "streamflow"
MAX_LINES = 600

# the data path, start to end: a module may import modules of its own layer or earlier ones, never later ones
LAYERS: tuple[tuple[str, ...], ...] = (
    ("models", "config"),  # the contracts and the settings
    ("rows", "olist", "messages"),  # rows and messages in those contracts, the figures the simulation is fitted to
    ("world", "rules"),  # the simulated shop; the rule engine
    ("generator", "importer", "scoring", "history", "tuning", "rulesets"),  # events in (made or imported), scored offline; rule versions
    ("local.proc", "local.credentials", "kafka_auth", "local.kafka", "local.postgres", "flink_runtime", "local.flink", "services", "warehouse", "kafka_io", "connectors"),
    ("pg_sink", "jobs.transaction_processor", "jobs.fraud_detector", "jobs.realtime_aggregator", "jobs.runner"),
    ("batch", "reporting", "rule_ops"),  # bronze -> silver -> gold, reports; rule sets diffed and published
    ("demo", "bench_measure", "bench_fixtures", "bench", "cli"),  # the whole line, end to end
)
IN_FLINK = {"pg_sink", "jobs.transaction_processor", "jobs.fraud_detector", "jobs.realtime_aggregator"}


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        if p.name in ("_modidx.py", "__init__.py"):
            continue
        out[".".join(p.relative_to(PKG).with_suffix("").parts)] = p
    return out


def _imports(name: str, path: Path, top_level_only: bool = False) -> set[str]:
    "streamflow modules (and pyflink, as 'pyflink') that `name` imports, anywhere in the file or at module level."
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    pkg = name.split(".")[:-1]
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                mod = ".".join([*base, *([node.module] if node.module else [])])
                if not node.module:  # `from . import x`
                    out |= {f"{mod}.{a.name}".strip(".") for a in node.names}
                    continue
            else:
                mod = node.module or ""
                if mod == "streamflow":  # `from streamflow import services`
                    out |= {a.name for a in node.names}
                    continue
                mod = mod.removeprefix("streamflow.") if mod.startswith("streamflow.") else mod
            out.add(mod)
        elif isinstance(node, ast.Import):
            out |= {a.name.removeprefix("streamflow.") for a in node.names}
    return {("pyflink" if m.split(".")[0] == "pyflink" else m) for m in out}


def test_no_module_over_600_lines():
    sizes = {m: len(p.read_text().splitlines()) for m, p in _modules().items()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def test_no_tool_module_over_600_lines():
    "The same bound for the Python beside the package: the deploy validator, the tools, the DAGs."
    files = [*(ROOT / "deploy").rglob("*.py"), *(ROOT / "tools").glob("*.py"), *(ROOT / "dags").glob("*.py")]
    assert files
    sizes = {str(f.relative_to(ROOT)): len(f.read_text().splitlines()) for f in files}
    assert {f: n for f, n in sizes.items() if n > MAX_LINES} == {}


def test_every_module_has_a_layer():
    layered = {m for layer in LAYERS for m in layer}
    assert set(_modules()) == layered, "add new modules to LAYERS (and think about where they sit on the data path)"


def test_imports_follow_the_data_path():
    layer = {m: i for i, names in enumerate(LAYERS) for m in names}
    back = []
    for name, path in _modules().items():
        for dep in _imports(name, path):
            dep = dep if dep in layer else next((m for m in layer if dep.startswith(m + ".")), dep)
            if dep in layer and layer[dep] > layer[name]:
                back.append(f"{name} (layer {layer[name]}) imports {dep} (layer {layer[dep]})")
    assert back == []


def test_pyflink_only_where_the_code_runs_inside_flink():
    top = {name for name, path in _modules().items() if "pyflink" in _imports(name, path, top_level_only=True)}
    assert top == IN_FLINK


OUTSIDE_FLINK = ("kafka_io", "messages", "rows", "flink_runtime", "jobs.runner", "batch", "cli")


def test_modules_outside_flink_import_without_pyflink():
    code = ("import sys; " + "; ".join(f"import streamflow.{m}" for m in OUTSIDE_FLINK) +
            "; print([m for m in sys.modules if m == 'pyflink' or m.startswith('pyflink.')][:3])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_nbdev_test_runs_every_exporting_notebook():
    exporting = [p for p in (ROOT / "nbs").rglob("*.ipynb")
                 if any("#| default_exp" in "".join(c["source"]) for c in json.loads(p.read_text())["cells"])]
    assert len(exporting) == len(_modules())  # one notebook per module
    for p in exporting:
        assert p.parent == ROOT / "nbs", f"{p} is outside nbs/ (nbdev_test skips experiments/ and reporting/)"
        cells = json.loads(p.read_text())["cells"]
        flags = [c for c in cells if re.search(r"^skip_exec:\s*true", "".join(c["source"]), re.M)]
        assert flags == [] and not (p.parent / ".notest").exists(), f"{p} opts out of nbdev_test"


def test_every_exported_function_and_class_is_shown_in_its_notebook():
    "Shown means used in a non-exported cell: an example, a test, or at least `show_doc` (for I/O tested elsewhere)."
    unshown = []
    for p in sorted((ROOT / "nbs").glob("*.ipynb")):
        cells = [c for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code"]
        exported = ["".join(c["source"]) for c in cells if re.match(r"#\|\s*export", "".join(c["source"]))]
        others = "\n".join("".join(c["source"]) for c in cells if not re.match(r"#\|\s*export", "".join(c["source"])))
        for src in exported:
            for node in ast.parse(src).body:
                if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_") \
                        and not re.search(rf"\b{node.name}\b", others):
                    unshown.append(f"{p.name}: {node.name}")
    assert unshown == []
