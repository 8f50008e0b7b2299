"""The notebooks run top to bottom in a real kernel, and the animator draws in place."""
import re
import sys
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.e2e
NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))
from execute import execute  # noqa: E402


def _cell(nb, text):
    return next(c for c in nb.cells if c.cell_type == "code" and text in c.source)


def _images(cell):
    return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")
            and "image/svg+xml" in o.get("data", {})]


@pytest.fixture(scope="module")
def scratch(real_dir):
    return execute(NOTEBOOKS / "softmax_regression_scratch.ipynb")


def test_scratch_notebook(scratch):
    assert not [o for c in scratch.cells if c.cell_type == "code" for o in c.outputs
                if o.output_type == "error"]
    training = _cell(scratch, "d2l.train_ch3(")
    # one figure, updated in place each epoch: a single display output, no pile of figures
    assert len(_images(training)) == 1
    assert not any("<Figure" in o.get("text", "") for o in training.outputs)
    printed = "".join(o.get("text", "") for o in training.outputs if o.output_type == "stream")
    assert float(re.search(r"final test accuracy (\d\.\d+)", printed).group(1)) >= 0.82
    for text in ("d2l.predict_ch3(", "d2l.plot_confusion_matrix(", "d2l.show_weights("):
        assert len(_images(_cell(scratch, text))) == 1, text


def test_concise_notebook(real_dir):
    nb = execute(NOTEBOOKS / "softmax_regression_concise.ipynb")
    assert len(_images(_cell(nb, "concise = d2l.train_ch3("))) == 1
    table = "".join(o.get("text", "") for o in _cell(nb, "scratch_net =").outputs
                    if o.output_type == "stream")
    rows = {line.split()[0]: float(line.split()[-1]) for line in table.splitlines()[1:]}
    assert rows["scratch"] >= 0.82 and rows["Keras"] >= 0.82


def test_committed_notebooks_have_their_outputs_and_stay_small():
    for path in NOTEBOOKS.glob("*.ipynb"):
        assert path.stat().st_size < 1_000_000, path
        nb = nbformat.read(path, as_version=4)
        assert any(_images(c) for c in nb.cells if c.cell_type == "code"), path
