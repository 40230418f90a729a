"""Fail if `nbdev_export` changes anything under streamflow/: the package must be what the notebooks say."""
import hashlib
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "streamflow"


def snapshot() -> dict[str, str]:
    return {str(p.relative_to(PKG)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(PKG.rglob("*.py"))}


before = snapshot()
subprocess.run([str(Path(sys.executable).parent / "nbdev_export")], check=True)
after = snapshot()
changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
if changed:
    sys.exit("nbdev_export changed streamflow/ (edit the notebooks, then export): " + ", ".join(changed))
print(f"check-export: {len(after)} modules match the notebooks")
