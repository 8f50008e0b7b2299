"""One pass of a step over the data, compiled: what ``train_epoch_ch3`` hands its step to.

:mod:`d2l_softmax.train` writes the chapter's step (forward pass, loss, tape, update)
and calls :func:`run_epoch`, which means::

    for X, y in data_iter:
        sums += step(X, y)

A reader who skips this package still understands training completely: it only
decides *how* the same step is repeated, and checks what the eager loop would meet.

- The loop, by the kind of data (:mod:`~d2l_softmax.engine.loops`): the loader's own
  datasets as one compiled loop over their in-memory arrays, any other ``tf.data``
  dataset as one compiled loop, any other iterable one compiled step a batch, or plain
  Python with ``run_eagerly=True``.
- How it is compiled, and for how long a program is kept:
  :mod:`~d2l_softmax.engine.program`.
- The checks around the step (labels in range, Python state a trace would freeze):
  :mod:`~d2l_softmax.engine.guards`; a loss that stops being finite raises
  :class:`TrainingDivergedError`.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import tensorflow as tf

from ..io.fashion_mnist import NUM_CLASSES
from .guards import check_labels_first, label_error, refuse_frozen_python_state
from .loops import (
    TrainingDivergedError,
    accumulating,
    dataset_loop,
    eager_loop,
    fused_loop,
    source_batches,
    step_loop,
)
from .program import kept, program, use_xla
from .source import array_source, scale_pixels


def steps_per_epoch(data_iter) -> int | None:
    """The number of batches in one pass, when it is known without iterating (the
    loader's datasets declare theirs)."""
    try:
        return len(data_iter)
    except TypeError:  # unknown or infinite length
        return None


def first_batch(data_iter) -> tuple | None:
    """The first batch ``(X, y)`` that iterating ``data_iter`` gives, or None when it
    has none. A dataset made by the loader gives it from its arrays directly, the same
    batch, without starting a tf.data iterator for one batch."""
    source = array_source(data_iter)
    for X, y in source_batches(source, source.order()) if source else data_iter:
        return X, y
    return None


def _one_example(data_iter):
    """``(X, y, data_iter)``: an input batch to build a model on, without spending a
    pass: the loader's first image, zeros shaped as a tf.data dataset's elements, or
    the first batch of any other iterable (``data_iter`` then gives that batch again,
    followed by the rest of the same iterator, so a one-shot iterable loses nothing).
    ``X`` is None when there are no examples."""
    source = array_source(data_iter)
    if source is not None:
        return scale_pixels(source.images[:1]), source.labels[:1], data_iter
    if isinstance(data_iter, tf.data.Dataset):
        spec_X, spec_y = (tuple(data_iter.element_spec) + (None, None))[:2]
        if (
            isinstance(spec_X, tf.TensorSpec)
            and spec_X.shape[1:].is_fully_defined()
            and isinstance(spec_y, tf.TensorSpec)
        ):
            return (
                tf.zeros([1, *spec_X.shape[1:]], spec_X.dtype),
                tf.zeros([1, *spec_y.shape[1:]], spec_y.dtype),
                data_iter,
            )
    batches = iter(data_iter)
    first = next(batches, None)
    if first is None:  # no examples: run_epoch says so
        return None, None, data_iter
    return first[0], tf.convert_to_tensor(first[1]), itertools.chain([first], batches)


def prepare(net, updater, data_iter, *, training: bool):
    """``(data_iter, classes)`` after building what must exist before compiling.

    A Keras model and optimizer are built eagerly (variables cannot be created in a
    loop). ``classes``: for training on integer labels, the number of the net's
    outputs, which the labels are checked against (None: nothing to check; the
    loader's labels are known to be in 0..9). Found by running the net once, eagerly,
    on one example, and kept for the rest of the ``train_ch3`` call."""
    keras_optimizer = isinstance(updater, tf.keras.optimizers.Optimizer)
    needs_build = isinstance(net, tf.keras.Model) and not net.built
    if not (training or needs_build):
        return data_iter, None

    def find_classes():
        nonlocal data_iter
        X, y, data_iter = _one_example(data_iter)
        if X is None:
            return None
        y_hat = net(X)  # builds a Keras model
        if (
            not training
            or not y.dtype.is_integer
            or y.shape.rank != 1
            or getattr(y_hat, "shape", tf.TensorShape(None)).rank != 2
        ):
            return None
        classes = int(y_hat.shape[-1])
        loader_labels = array_source(data_iter) is not None
        return None if loader_labels and classes >= NUM_CLASSES else classes

    classes = kept(("classes", id(net)), find_classes)
    if keras_optimizer and not getattr(updater, "built", getattr(updater, "_built", True)):
        updater.build(net.trainable_variables)
    return data_iter, classes


# ---------------------------------------------------------------- one epoch


def run_epoch(
    step,
    objects: tuple,
    data_iter,
    *,
    training: bool,
    run_eagerly: bool = False,
    jit_compile: bool | None = None,
    run_steps: int | None = None,
    epoch: int | None = None,
) -> np.ndarray:
    """Sums over one pass of ``step``, as float64: (loss, correct, count) when training,
    else (correct, count). ``objects``: (net, loss, updater), or (net,) to evaluate.
    ``jit_compile`` and ``run_steps`` (the whole run's steps, when known) choose how it
    is compiled (:func:`~d2l_softmax.engine.program.use_xla`). A label outside the
    net's classes raises ``ValueError``, a non-finite loss
    :class:`TrainingDivergedError`; the batch is not trained on, nor any after it."""
    data_iter, classes = prepare(
        objects[0], objects[-1] if training else None, data_iter, training=training
    )
    if training:
        step = check_labels_first(step, classes)
    source = array_source(data_iter)
    try:
        if run_eagerly or tf.config.functions_run_eagerly():
            batches = source_batches(source, source.order()) if source else data_iter
            sums = eager_loop(step, batches, training=training, epoch=epoch)
            return sums[:3] if training else sums
        step = refuse_frozen_python_state(step, objects)
        xla = use_xla(jit_compile, run_steps)
        sums, bad = _compiled_pass(step, objects, data_iter, source, training, xla)
    except tf.errors.InvalidArgumentError as err:  # a Keras loss's kernel met a bad label?
        bad_label = _label_error(err)
        if bad_label is None:
            raise
        raise bad_label from None
    if bad >= 0:
        where = f"epoch {epoch}, batch {bad + 1}" if epoch else f"batch {bad + 1}"
        if training and sums[3] != 0:  # a label out of range (NaN: not known exactly)
            raise label_error(int(sums[3]) if np.isfinite(sums[3]) else None, classes, where)
        raise TrainingDivergedError(epoch, bad + 1, float("nan"))
    return sums[:3] if training else sums


_OUT_OF_RANGE = re.compile(
    r"label value of (-?\d+) which is outside the valid range of \[0, (\d+)\)"
)


def _label_error(err: tf.errors.InvalidArgumentError) -> ValueError | None:
    """The ``ValueError`` the eager path gives for a label out of range, when that is what
    TensorFlow's loss kernel rejected (a wide label mapped to -1 shows as "a label")."""
    found = _OUT_OF_RANGE.search(err.message or "")
    if found is None:
        return None
    label, classes = int(found.group(1)), int(found.group(2))
    return label_error(label if label >= 0 else None, classes)


def _compiled_pass(step, objects, data_iter, source, training, xla):
    """(sums, index of the first bad batch or -1) of one compiled pass."""
    what = "training epoch" if training else "evaluation"
    key = (what, *map(id, objects))
    if source is not None:
        loop = program(
            key + ("fused", source.batch_size),
            lambda jit, autograph, known: tf.function(
                fused_loop(step, source.batch_size, training=training, static_shapes=known),
                jit_compile=jit,
                autograph=autograph,
            ),
            what,
            xla,
            hides_batch_size=True,
            batch_size_known=xla is not False,
        )  # XLA: known
        sums, bad = loop(source.images, source.labels, source.order())
    elif isinstance(data_iter, tf.data.Dataset):

        def make(jit, autograph, known):
            if not known:  # the whole pass as one program, batch size unknown
                return tf.function(
                    dataset_loop(
                        tf.function(step, jit_compile=jit, autograph=autograph), training=training
                    )
                )
            one_step = tf.function(
                accumulating(step, training=training), jit_compile=jit, autograph=autograph
            )  # one trace per batch shape
            return lambda dataset: step_loop(one_step, dataset, training=training)

        loop = program(key + ("dataset",), make, what, xla, hides_batch_size=True)
        sums, bad = loop(data_iter)
    else:  # a second batch shape gets a trace with the batch size unknown (reduce_retracing)
        one_step = program(
            key + ("step",),
            lambda jit, autograph, known: tf.function(
                accumulating(step, training=training),
                jit_compile=jit,
                autograph=autograph,
                reduce_retracing=not known,
            ),
            what,
            xla,
        )
        sums, bad = step_loop(one_step, data_iter, training=training)
    return sums.numpy().astype(np.float64), int(bad)
