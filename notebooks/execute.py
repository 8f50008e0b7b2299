"""Re-run the notebooks in place with their outputs: ``python notebooks/execute.py [names]``.

The kernel is this very interpreter (the one that has d2l_softmax installed), not
whatever ``python3`` kernel another environment registered. The saved notebooks
carry no execution timestamps, and the package draws figures as PNG without
varying metadata, so a re-run that changes no result changes no byte.

Nothing else is filtered: TensorFlow's start-up log lines are kept out of the
outputs by the package itself (``d2l_softmax.io.quiet``), and anything a cell writes
to stderr is kept, so that it can be seen (the tests expect none).
"""

import os
import sys
from pathlib import Path

import matplotlib
import nbformat
import PIL
from jupyter_client import AsyncKernelManager
from matplotlib import ft2font
from nbclient import NotebookClient

HERE = Path(__file__).parent


def kernel_manager() -> AsyncKernelManager:
    """A manager for a Python kernel run by ``sys.executable``, logging errors only."""
    km = AsyncKernelManager(kernel_name="python3")
    km.kernel_spec.argv = [
        sys.executable,
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
        "--IPKernelApp.log_level=ERROR",
    ]
    return km


def drawn_with() -> dict:
    """What the bytes of a figure depend on besides the figure: who drew and encoded it."""
    return {
        "matplotlib": matplotlib.__version__,
        "freetype": ft2font.__freetype_version__,
        "pillow": PIL.__version__,
    }


def execute(path: Path, timeout: int = 600, nb=None) -> nbformat.NotebookNode:
    """Run a notebook in a fresh kernel, as Jupyter would, and return it with outputs.

    ``nb``: the cells to run instead of the file's (the file's folder is still the
    working directory). The kernel is shut down at the end.
    """
    nb = nbformat.read(path, as_version=4) if nb is None else nb
    km = kernel_manager()
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(cleanup_kc=True, env=_kernel_env())
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # no timestamps
        if cell.cell_type == "code":
            cell.outputs = merged_streams(cell.outputs)
    # the kernel's own name, so that JupyterLab has nothing to change on opening the file
    nb.metadata["kernelspec"] = {
        "display_name": km.kernel_spec.display_name,
        "language": "python",
        "name": "python3",
    }
    nb.metadata["d2l_softmax"] = {"figures_drawn_with": drawn_with()}
    return nb


def merged_streams(outputs: list) -> list:
    """``outputs`` with each run of stdout (or stderr) pieces joined into one output.

    Where a cell's printing is cut into pieces depends on when the kernel flushed,
    which varies from run to run; joined, the same prints give the same bytes.
    """
    merged = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and last is not None
            and last.output_type == "stream"
            and last.name == output.name
        ):
            last.text += output.text
        else:
            merged.append(output)
    return merged


def _kernel_env() -> dict:
    """The environment for the kernel: ours, without a matplotlib backend chosen for
    scripts (the kernel must use its inline backend)."""
    return {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}


def main(names=()) -> int:
    paths = [HERE / name for name in names] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        nbformat.write(execute(path), path)
        print(f"executed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
