"""The book's ``train_ch3`` as the 0.17 edition writes it, run eagerly: the baseline every
compiled way is compared with."""

from __future__ import annotations

import time

import tensorflow as tf

import d2l_softmax as d2l

import recipe
from recipe import BATCH, arrays


def book_loop(model):
    """The book's ``train_ch3`` as it writes it, eagerly: batch-then-shuffle tf.data,
    a GradientTape per batch, Python accumulators, its Animator."""

    def way(folder, seed):
        (Xtr, ytr), (Xte, yte) = arrays(folder)
        process = lambda X, y: (tf.expand_dims(X, axis=3) / 255, tf.cast(y, dtype="int32"))
        train_iter = (
            tf.data.Dataset.from_tensor_slices(process(Xtr, ytr))
            .batch(BATCH)
            .shuffle(len(Xtr), seed=seed)
        )
        test_iter = tf.data.Dataset.from_tensor_slices(process(Xte, yte)).batch(BATCH)

        def run(plot_path):
            net, loss, updater = model(seed)
            return book_train_ch3(net, train_iter, test_iter, loss, updater, plot_path)

        return run

    return way


def book_accuracy(y_hat, y):
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = tf.argmax(y_hat, axis=1)
    cmp = tf.cast(y_hat, y.dtype) == y
    return float(tf.reduce_sum(tf.cast(cmp, y.dtype)))


def book_train_ch3(net, train_iter, test_iter, loss, updater, plot_path):
    keras_loss = isinstance(loss, tf.keras.losses.Loss)
    keras_optimizer = isinstance(updater, tf.keras.optimizers.Optimizer)
    animator = d2l.Animator(
        xlabel="epoch",
        xlim=[1, recipe.EPOCHS],
        ylim=[0.3, 0.9],
        legend=["train loss", "train acc", "test acc"],
        save_path=plot_path,
        verbose=False,
        live=False,
    )
    seconds = []
    for epoch in range(recipe.EPOCHS):
        start = time.perf_counter()
        metric = d2l.Accumulator(3)
        for X, y in train_iter:
            with tf.GradientTape() as tape:
                y_hat = net(X)
                l = loss(y, y_hat) if keras_loss else loss(y_hat, y)
            if keras_optimizer:
                params = net.trainable_variables
                updater.apply_gradients(zip(tape.gradient(l, params), params))
            else:
                updater(X.shape[0], tape.gradient(l, updater.params))
            l_sum = l * float(tf.size(y)) if keras_loss else tf.reduce_sum(l)
            metric.add(l_sum, book_accuracy(y_hat, y), tf.size(y))
        test = d2l.Accumulator(2)
        for X, y in test_iter:
            test.add(book_accuracy(net(X), y), tf.size(y).numpy())
        metrics = (metric[0] / metric[2], metric[1] / metric[2], test[0] / test[1])
        seconds.append(time.perf_counter() - start)
        animator.add(epoch + 1, metrics)
    animator.close()
    return seconds, metrics
