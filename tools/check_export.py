"""Fail if the generated files drift from the notebooks.

Checks, without leaving changes behind when all is well:
- `nbdev_export` changes nothing under streamflow/ (the package is what the notebooks say);
- `nbdev_clean` changes no notebook (notebooks are committed clean);
- README.md matches nbs/index.ipynb.
"""
import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def snapshot(folder: Path, pattern: str) -> dict[str, str]:
    return {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob(pattern))}


def changed_by(cmd: list[str], folder: Path, pattern: str) -> list[str]:
    before = snapshot(folder, pattern)
    subprocess.run(cmd, check=True, cwd=ROOT)
    after = snapshot(folder, pattern)
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


problems = []
if changed := changed_by([str(BIN / "nbdev_clean")], ROOT / "nbs", "*.ipynb"):
    problems.append("notebooks were not clean (nbdev_clean rewrote them; commit the result): " + ", ".join(changed))
if changed := changed_by([str(BIN / "nbdev_export")], ROOT / "streamflow", "*.py"):
    problems.append("nbdev_export changed the package (edit the notebooks, export, commit): " + ", ".join(changed))
readme = subprocess.run([sys.executable, str(ROOT / "tools" / "readme.py"), "--check"], cwd=ROOT)
if readme.returncode:
    problems.append("README.md is out of date")
if problems:
    sys.exit("\n".join(problems))
print(f"check-export: {len(snapshot(ROOT / 'streamflow', '*.py'))} modules match the notebooks; notebooks clean")
