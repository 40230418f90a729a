"""Render README.md from nbs/index.ipynb (nbdev's own renderer needs Quarto, which we do not install).

`python tools/readme.py` writes README.md; `--check` fails if README.md is out of date.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file. -->\n\n"


def render() -> str:
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text(encoding="utf-8"))
    parts = []
    for cell in nb["cells"]:
        src = "".join(cell["source"]).strip()
        if not src or src.startswith("#|"):
            continue
        parts.append(src if cell["cell_type"] == "markdown" else f"```python\n{src}\n```")
    return HEADER + "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    text, target = render(), ROOT / "README.md"
    if "--check" in sys.argv:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            sys.exit("README.md is out of date: run `python tools/readme.py` (it is generated from nbs/index.ipynb)")
        print("readme: README.md matches nbs/index.ipynb")
    else:
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
