"""Re-run the notebooks in place with their outputs: ``python notebooks/execute.py``.

TensorFlow's C++ start-up lines on stderr are dropped from the saved outputs: they
describe the machine that ran the notebook, not the chapter.
"""
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).parent


def execute(path: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """Run a notebook in a fresh kernel, as Jupyter would, and return it with outputs."""
    nb = nbformat.read(path, as_version=4)
    backend = os.environ.pop("MPLBACKEND", None)  # the kernel must use its inline backend
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if backend is not None:
            os.environ["MPLBACKEND"] = backend
    return nb


def main() -> int:
    for path in sorted(HERE.glob("*.ipynb")):
        nb = execute(path)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs
                                if not (o.output_type == "stream" and o.name == "stderr")]
        nbformat.write(nb, path)
        print(f"executed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
