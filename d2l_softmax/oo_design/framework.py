"""The 1.0 edition's framework (its section "Object-Oriented Design for Implementation"):
``HyperParameters``, ``ProgressBoard``, ``Module``, ``DataModule``, ``Trainer``, and ``SGD``."""

import collections
import inspect

import tensorflow as tf

from ..engine.program import plotting_step
from ..io.display import in_notebook
from ..io.terminal import epoch_bar
from ..plots import Animator


def add_to_class(Class):
    """Add the decorated function to ``Class`` as a method (a class over several cells)."""

    def wrapper(obj):
        setattr(Class, obj.__name__, obj)
        return obj

    return wrapper


class HyperParameters:  # the base class of hyperparameters
    def save_hyperparameters(self, ignore=()):
        """Save the arguments of the calling ``__init__`` (its locals) as attributes, hparams."""
        local_vars = inspect.currentframe().f_back.f_locals
        self.hparams = {
            k: v
            for k, v in local_vars.items()
            if k not in {*ignore, "self"} and not k.startswith("_")
        }
        for k, v in self.hparams.items():
            setattr(self, k, v)


class ProgressBoard(HyperParameters):
    """Plots the mean of every ``every_n`` points ``draw(x, y, label)`` gets: redrawn in place
    in Jupyter; in a terminal saved at :meth:`close` (``Trainer.fit`` shows a progress bar)."""

    Point = collections.namedtuple("Point", ["x", "y"])

    def __init__(
        self,
        xlabel=None,
        ylabel=None,
        xlim=None,
        ylim=None,
        xscale="linear",
        yscale="linear",
        ls=("-", "--", "-.", ":"),
        colors=("C0", "C1", "C2", "C3"),
        fig=None,
        axes=None,
        figsize=(3.5, 2.5),
        display=True,
    ):
        self.save_hyperparameters()
        self.raw_points, self.data, self.animator = collections.OrderedDict(), {}, None

    def draw(self, x, y, label, every_n=1):
        points, line = self.raw_points.setdefault(label, []), self.data.setdefault(label, [])
        points.append(self.Point(x, y))
        if len(points) != every_n:
            return
        line.append(self.Point(*(sum(v) / len(v) for v in zip(*points))))  # the means of x, y
        points.clear()
        if self.display:
            self.show(label, line[-1])

    def show(self, label, point):  # through the package's Animator
        a = self.animator
        if a is None:
            a = self.animator = Animator(
                figsize=self.figsize,
                verbose=False,
                save_every=None,
                fmts=[f"{c}{ls}o" for ls, c in zip(self.ls, self.colors)],
            )
            a.X, a.Y, self.fig = [], [], a.fig
        a.xlabel, a.ylabel, a.xscale, a.yscale = self.xlabel, self.ylabel, self.xscale, self.yscale
        a.xlim, a.ylim, a.legend = self.xlim, self.ylim, [k.replace("_", " ") for k in self.data]
        while len(a.X) < len(self.data):  # a new line
            a.X.append([]), a.Y.append([])
        a.add(point.x, [point.y if name == label else None for name in self.data])

    def close(self):
        """In a terminal, print each line's last mean and save the PNG. Next: a new figure."""
        if self.animator is not None:
            if not self.animator.live:
                print(", ".join(f"{k} {v[-1].y:.4f}" for k, v in self.data.items() if v))
                print(f"The plot is saved in {self.animator.save()}")
            self.animator.close()


class Module(tf.keras.Model, HyperParameters):
    """Models. Parameters: Keras layers, or raw ``tf.Variable`` attributes (the scratch ``W``
    (784, 10), ``b`` (10,)), which Keras 3 does not track."""

    def __init__(self, plot_train_per_epoch=2, plot_valid_per_epoch=1):
        super().__init__()
        self.save_hyperparameters()
        if self.__dict__.get("loss", ...) is None:  # Keras 3 sets it, hiding the loss method
            del self.loss
        self.board = ProgressBoard()
        self.training = None

    @property
    def trainable_variables(self):
        """Keras's, then the raw ``tf.Variable`` attributes (or in lists, or child Modules')."""
        found = list(super().trainable_variables)
        for value in vars(self).values() if self.trainable else ():
            for v in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(v, Module):
                    found += v.trainable_variables
                elif isinstance(v, tf.Variable) and v.trainable:
                    found.append(v)
        return list({id(v): v for v in found}.values())  # each once, in order

    def loss(self, y_hat, y):
        raise NotImplementedError

    def forward(self, X):
        return self.net(X)

    def call(self, X, *args, **kwargs):
        self.training = kwargs.get("training", self.training)
        return self.forward(X, *args)

    def plot(self, key, value, train):
        """Plot a point in animation (in a compiled step: after it, see ``Trainer.compiled``)."""
        if not tf.executing_eagerly():  # value is symbolic: the step will return it
            self.trainer.traced_plots.append((key, value, train))
            return
        self.board.xlabel = "epoch"
        if train:
            x = self.trainer.train_batch_idx / self.trainer.num_train_batches
            n = self.trainer.num_train_batches / self.plot_train_per_epoch
        else:
            x = self.trainer.epoch + 1
            n = self.trainer.num_val_batches / self.plot_valid_per_epoch
        self.board.draw(x, float(value), ("train_" if train else "val_") + key, every_n=int(n))

    def training_step(self, batch):
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", l, train=True)
        return l

    def validation_step(self, batch):
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", l, train=False)

    def configure_optimizers(self):
        return tf.keras.optimizers.SGD(self.lr)


class DataModule(HyperParameters):
    """The base class of data: ``get_dataloader(train)`` gives the batches ``(X, y)``."""

    def __init__(self, root="../data"):
        self.save_hyperparameters()

    def get_dataloader(self, train):
        raise NotImplementedError

    def train_dataloader(self):
        return self.get_dataloader(train=True)

    def val_dataloader(self):
        return self.get_dataloader(train=False)

    def get_tensorloader(self, tensors, train, indices=slice(0, None)):
        """Batches of the rows ``indices`` of ``tensors`` (each (N, ...)), shuffled to train."""
        tensors = tuple(a[indices] for a in tensors)
        shuffle_buffer = tensors[0].shape[0] if train else 1
        return (
            tf.data.Dataset.from_tensor_slices(tensors)
            .shuffle(buffer_size=shuffle_buffer)
            .batch(self.batch_size)
        )


class Trainer(HyperParameters):
    """Fits a ``Module`` to a ``DataModule``: ``Trainer(max_epochs=10).fit(model, data)``.
    Each step is compiled as a ``tf.function``; ``run_eagerly=True`` runs it in Python."""

    def __init__(self, max_epochs, num_gpus=0, gradient_clip_val=0, *, run_eagerly=False):
        self.save_hyperparameters()
        assert num_gpus == 0, "No GPU support yet"

    def prepare_data(self, data):
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = len(self.val_dataloader) if self.val_dataloader is not None else 0

    def prepare_model(self, model):
        model.trainer = self
        model.board.xlim = [0, self.max_epochs]
        self.model = model

    def fit(self, model, data):
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.epoch = self.train_batch_idx = self.val_batch_idx = 0
        steps = (self.training_update, model.validation_step)
        self.train_step, self.val_step = steps if self.run_eagerly else map(self.compiled, steps)
        epochs = epoch_bar(range(self.max_epochs), hidden=in_notebook())  # a terminal's bar
        for self.epoch in epochs:  # noqa: B020 (the book's loop)
            self.fit_epoch()
        model.board.close()

    def prepare_batch(self, batch):
        return batch

    def fit_epoch(self):
        self.model.training = True
        for batch in self.train_dataloader:
            self.train_step(self.prepare_batch(batch))
            self.train_batch_idx += 1
        if self.val_dataloader is None:
            return
        self.model.training = False
        for batch in self.val_dataloader:
            self.val_step(self.prepare_batch(batch))
            self.val_batch_idx += 1

    def training_update(self, batch):
        """The book's step: the loss on ``batch``, its gradients, an optimizer step."""
        with tf.GradientTape() as tape:
            loss = self.model.training_step(batch)
        grads = tape.gradient(loss, self.model.trainable_variables)
        if self.gradient_clip_val > 0:  # scaled to a global norm of at most gradient_clip_val
            grads = tf.clip_by_global_norm(grads, self.gradient_clip_val)[0]
        self.optim.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss

    def compiled(self, step):
        """``step(batch)`` as a ``tf.function`` (``engine.program.plotting_step``)."""
        return plotting_step(step, self)


class SGD(HyperParameters):  # minibatch stochastic gradient descent: param -= lr * grad
    def __init__(self, lr):
        self.save_hyperparameters()

    def apply_gradients(self, grads_and_vars):
        for grad, param in grads_and_vars:
            param.assign_sub(self.lr * grad)
