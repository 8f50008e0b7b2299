"""Re-run the notebooks in place with their outputs: ``python notebooks/execute.py [names]``.

The kernel is this very interpreter (the one that has d2l_softmax installed), not
whatever ``python3`` kernel another environment registered. The saved notebooks
carry no execution timestamps, so a re-run that changes no result changes no byte
(the package displays figures as PNG without varying metadata).

Outputs on stderr are dropped: TensorFlow's C++ start-up lines describe the machine
that ran the notebook, not the chapter. (Making the package quiet at the source is
a separate change; this filter stays as a safety net.)
"""
import os
import sys
from pathlib import Path

import nbformat
from jupyter_client import AsyncKernelManager
from nbclient import NotebookClient

HERE = Path(__file__).parent


def kernel_manager() -> AsyncKernelManager:
    """A manager for a Python kernel run by ``sys.executable``."""
    km = AsyncKernelManager(kernel_name="python3")
    km.kernel_spec.argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    return km


def execute(path: Path, timeout: int = 600, nb=None) -> nbformat.NotebookNode:
    """Run a notebook in a fresh kernel, as Jupyter would, and return it with outputs.

    ``nb``: the cells to run instead of the file's (the file's folder is still the
    working directory).
    """
    nb = nbformat.read(path, as_version=4) if nb is None else nb
    backend = os.environ.pop("MPLBACKEND", None)  # the kernel must use its inline backend
    try:
        NotebookClient(nb, km=kernel_manager(), timeout=timeout, record_timing=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if backend is not None:
            os.environ["MPLBACKEND"] = backend
    return nb


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop stderr outputs and execution timestamps: what varies from run to run."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.name == "stderr")]
    return nb


def main(names=()) -> int:
    paths = [HERE / name for name in names] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        nbformat.write(clean(execute(path)), path)
        print(f"executed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
