"""The book's 1.0 chapter cells (d2l_softmax.oo_design) train on Keras 3 with Trainer."""

import subprocess
import sys
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l
from d2l_softmax import oo_design

PNG = b"\x89PNG\r\n\x1a\n"

# "Softmax Regression Implementation from Scratch", the TensorFlow tab as d2l.ai prints it
BOOK_SCRATCH = """
def softmax(X):
    X_exp = d2l.exp(X)
    partition = d2l.reduce_sum(X_exp, 1, keepdims=True)
    return X_exp / partition  # The broadcasting mechanism is applied here

class SoftmaxRegressionScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W = tf.random.normal((num_inputs, num_outputs), 0, sigma)
        self.b = tf.zeros(num_outputs)
        self.W = tf.Variable(self.W)
        self.b = tf.Variable(self.b)

@d2l.add_to_class(SoftmaxRegressionScratch)
def forward(self, X):
    X = d2l.reshape(X, (-1, self.W.shape[0]))
    return softmax(d2l.matmul(X, self.W) + self.b)

def cross_entropy(y_hat, y):
    return -tf.reduce_mean(tf.math.log(tf.boolean_mask(
        y_hat, tf.one_hot(y, depth=y_hat.shape[-1]))))

@d2l.add_to_class(SoftmaxRegressionScratch)
def loss(self, y_hat, y):
    return cross_entropy(y_hat, y)
"""

# "Concise Implementation of Softmax Regression", the TensorFlow tab
BOOK_CONCISE = """
class SoftmaxRegression(d2l.Classifier):  #@save
    \"\"\"The softmax regression model.\"\"\"
    def __init__(self, num_outputs, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = tf.keras.models.Sequential()
        self.net.add(tf.keras.layers.Flatten())
        self.net.add(tf.keras.layers.Dense(num_outputs))

    def forward(self, X):
        return self.net(X)

@d2l.add_to_class(d2l.Classifier)  #@save
def loss(self, Y_hat, Y, averaged=True):
    Y_hat = d2l.reshape(Y_hat, (-1, Y_hat.shape[-1]))
    Y = d2l.reshape(Y, (-1,))
    fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return fn(Y, Y_hat)
"""


def book_scratch(lr=0.1):
    cells = {"d2l": d2l, "tf": tf}
    exec(BOOK_SCRATCH, cells)
    return cells["SoftmaxRegressionScratch"](num_inputs=784, num_outputs=10, lr=lr)


@pytest.fixture
def book_concise(monkeypatch):
    """The book's concise model class; its cells' Classifier.loss is undone afterwards."""
    monkeypatch.setattr(oo_design.Classifier, "loss", oo_design.Classifier.loss)
    cells = {"d2l": d2l, "tf": tf}
    exec(BOOK_CONCISE, cells)
    return cells["SoftmaxRegression"]


def val_accuracy(model, data):
    """Accuracy over the whole validation set (each example counted once)."""
    X, y = (tf.concat(t, 0) for t in zip(*data.val_dataloader()))
    return float(model.accuracy(model(X), y))


# ---------------------------------------------------------------- the scratch model


def test_the_scratch_models_raw_variables_are_what_it_trains():
    model = book_scratch()
    assert [v.shape for v in model.trainable_variables] == [(784, 10), (10,)]
    assert model.trainable_variables[0] is model.W and model.trainable_variables[1] is model.b
    if int(tf.keras.__version__.split(".")[0]) >= 3:  # why Module looks for them itself
        assert super(oo_design.Module, model).trainable_variables == []
    assert callable(model.loss)  # not Keras 3's model.loss = None


# ---------------------------------------------------------------- training


def test_the_book_scratch_model_trains_quietly_in_a_terminal(small_dir, capsys):
    tf.keras.utils.set_random_seed(0)
    data = d2l.FashionMNIST(batch_size=32, data_dir=small_dir)
    model = book_scratch(lr=0.5)
    trainer = d2l.Trainer(max_epochs=3)
    trainer.fit(model, data)
    board = model.board.data
    assert (
        [round(p.x, 6) for p in board["val_loss"]] == [1, 2, 3] == [p.x for p in board["val_acc"]]
    )
    # 10 batches, two points an epoch: the means of batches 0-4 and 5-9
    assert [round(p.x, 6) for p in board["train_loss"]] == [0.2, 0.7, 1.2, 1.7, 2.2, 2.7]
    assert board["train_loss"][-1].y < board["train_loss"][0].y / 2
    assert board["val_acc"][-1].y >= 0.9 and val_accuracy(model, data) >= 0.9
    out = capsys.readouterr().out.splitlines()  # one line of numbers and where the PNG is
    assert len(out) == 2 and out[0].startswith("train_loss ") and "<Figure" not in out[0]
    path = out[1].removeprefix("The plot is saved in ")
    assert open(path, "rb").read(8) == PNG
    assert plt.get_fignums() == []  # no figure left open with pyplot


def test_the_book_concise_model_trains_with_keras_sgd(small_dir, book_concise):
    tf.keras.utils.set_random_seed(0)
    data = d2l.FashionMNIST(batch_size=32, data_dir=small_dir)
    model = book_concise(num_outputs=10, lr=0.5)
    trainer = d2l.Trainer(max_epochs=3)
    trainer.fit(model, data)
    assert isinstance(trainer.optim, tf.keras.optimizers.SGD)
    assert val_accuracy(model, data) >= 0.9


def _fit(make_model, data_dir, run_eagerly):
    tf.keras.utils.set_random_seed(7)
    data = d2l.FashionMNIST(batch_size=32, data_dir=data_dir)
    model = make_model()
    trainer = d2l.Trainer(max_epochs=3, run_eagerly=run_eagerly)
    trainer.fit(model, data)
    assert hasattr(trainer, "traced_plots") != run_eagerly  # compiled: it was traced
    return model


@pytest.mark.parametrize("which", ["scratch", "concise"])
def test_the_compiled_fit_gives_the_eager_numbers(small_dir, which):
    make = (
        (lambda: book_scratch(lr=0.5))
        if which == "scratch"
        else (lambda: oo_design.SoftmaxRegression(10, 0.5))
    )
    eager, compiled = (_fit(make, small_dir, run_eagerly) for run_eagerly in (True, False))
    for a, b in zip(eager.trainable_variables, compiled.trainable_variables, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
    assert eager.board.data.keys() == compiled.board.data.keys()
    for key, points in eager.board.data.items():
        np.testing.assert_allclose(compiled.board.data[key], points, rtol=1e-5, atol=1e-6)
    assert len(eager.board.data["train_loss"]) == 6


def test_a_module_and_the_sgd_of_the_linear_regression_chapter():
    """oo-design and linear-regression-scratch: raw variables, d2l.SGD, get_tensorloader."""

    class SyntheticRegressionData(d2l.DataModule):
        def __init__(self, w, b, noise=0.01, num_train=1000, num_val=1000, batch_size=32):
            super().__init__()
            self.save_hyperparameters()
            n = num_train + num_val
            self.X = tf.random.normal((n, w.shape[0]))
            noise = tf.random.normal((n, 1)) * noise
            self.y = d2l.matmul(self.X, d2l.reshape(w, (-1, 1))) + b + noise

        def get_dataloader(self, train):
            i = slice(0, self.num_train) if train else slice(self.num_train, None)
            return self.get_tensorloader((self.X, self.y), train, i)

    class LinearRegressionScratch(d2l.Module):
        def __init__(self, num_inputs, lr, sigma=0.01):
            super().__init__()
            self.save_hyperparameters()
            self.w = tf.Variable(tf.random.normal((num_inputs, 1), mean=0, stddev=0.01))
            self.b = tf.Variable(tf.zeros(1))

        def forward(self, X):
            return d2l.matmul(X, self.w) + self.b

        def loss(self, y_hat, y):
            return tf.reduce_mean((y_hat - y) ** 2 / 2)

        def configure_optimizers(self):
            return d2l.SGD(self.lr)

    tf.random.set_seed(1)
    model = LinearRegressionScratch(2, lr=0.03)
    data = SyntheticRegressionData(w=tf.constant([2, -3.4]), b=4.2)
    d2l.Trainer(max_epochs=3).fit(model, data)
    # the book's errors after 3 epochs: about [0.1, -0.2] in w, 0.2 in b
    np.testing.assert_allclose(model.w.numpy()[:, 0], [2, -3.4], atol=0.3)
    np.testing.assert_allclose(model.b.numpy(), [4.2], atol=0.3)
    assert model.board.data["val_loss"][-1].y < 0.1 < model.board.data["train_loss"][0].y


def test_the_progress_board_in_a_script_prints_one_line_and_saves_a_png():
    script = textwrap.dedent("""
        import numpy as np
        import d2l_softmax as d2l
        board = d2l.ProgressBoard('x')
        for x in np.arange(0, 10, 0.1):
            board.draw(x, np.sin(x), 'sin', every_n=2)
            board.draw(x, np.cos(x), 'cos', every_n=10)
        print('drawn')
        board.close()
        import matplotlib.pyplot as plt
        print('open figures', len(plt.get_fignums()))
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "drawn" and out[-1] == "open figures 0" and len(out) == 4
    assert out[1].startswith("sin ") and ", cos " in out[1]
    path = out[2].removeprefix("The plot is saved in ")
    assert open(path, "rb").read(8) == PNG


# ---------------------------------------------------------------- the real data


@pytest.mark.e2e
def test_the_book_scratch_model_reaches_the_books_accuracy(real_dir):
    tf.keras.utils.set_random_seed(0)
    data = d2l.FashionMNIST(batch_size=256, data_dir=real_dir)
    model = book_scratch(lr=0.1)
    d2l.Trainer(max_epochs=10).fit(model, data)
    assert model.board.data["val_acc"][-1].y >= 0.8
    assert val_accuracy(model, data) >= 0.8


@pytest.mark.e2e
def test_the_book_concise_model_reaches_the_books_accuracy(real_dir, book_concise):
    tf.keras.utils.set_random_seed(0)
    data = d2l.FashionMNIST(batch_size=256, data_dir=real_dir)
    model = book_concise(num_outputs=10, lr=0.1)
    d2l.Trainer(max_epochs=10).fit(model, data)
    assert model.board.data["val_acc"][-1].y >= 0.8
    assert val_accuracy(model, data) >= 0.8
