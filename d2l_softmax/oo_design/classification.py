"""The 1.0 edition's classification chapter: ``FashionMNIST``, ``Classifier`` and the concise
``SoftmaxRegression``, on the framework of :mod:`~d2l_softmax.oo_design.framework`."""

import tensorflow as tf

from ..engine.source import batch_bounds, scale_pixels
from ..io.fashion_mnist import TEXT_LABELS, find_fashion_mnist, read_fashion_mnist
from ..plots import show_images
from .framework import DataModule, Module


class FashionMNIST(DataModule):
    """Fashion-MNIST from the files of ``d2l.load_data_fashion_mnist``: ``train``, ``val`` are uint8
    (N, 28, 28), (N,). Batches X float32 (B, 28, 28, 1) (or ``resize``), y int32 (B,), cut as by
    ``.batch()`` (the short one last), in a new order each training pass."""

    def __init__(self, batch_size=64, resize=(28, 28), *, data_dir=None):
        super().__init__()
        self.save_hyperparameters()
        folder = find_fashion_mnist(data_dir)
        self.train, self.val = (read_fashion_mnist(folder, split) for split in ("train", "test"))

    def text_labels(self, indices):
        return [TEXT_LABELS[int(i)] for i in indices]

    def get_dataloader(self, train):
        images, labels = (tf.constant(a) for a in (self.train if train else self.val))
        bounds = batch_bounds(len(labels), self.batch_size)  # [(0, 256), (256, 512), ...]
        batches = tf.data.Dataset.from_tensor_slices(bounds).shuffle(len(bounds) if train else 1)

        def cut(bound):  # images[start:end] as the book's process(X, y) makes a batch of them
            X = scale_pixels(tf.expand_dims(images[bound[0] : bound[1]], axis=3))
            if tuple(self.resize) != tuple(images.shape[1:]):
                X = tf.image.resize_with_pad(X, *self.resize)
            return X, tf.cast(labels[bound[0] : bound[1]], dtype="int32")

        return batches.map(cut).prefetch(tf.data.AUTOTUNE)

    def visualize(self, batch, nrows=1, ncols=8, labels=()):
        """Show the first images of ``batch = [X, y]``, titled ``labels`` (or y's names)."""
        X, y = batch
        show_images(tf.squeeze(X, axis=-1), nrows, ncols, titles=labels or self.text_labels(y))


class Classifier(Module):
    """The base class of classification models: scores Y_hat (B, q) of q classes, Y (B,)."""

    def validation_step(self, batch):
        Y_hat = self(*batch[:-1])
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)
        self.plot("acc", self.accuracy(Y_hat, batch[-1]), train=False)

    def accuracy(self, Y_hat, Y, averaged=True):
        """The fraction of correct predictions (not averaged: 1.0 or 0.0 each, (B,))."""
        Y_hat = tf.reshape(Y_hat, (-1, Y_hat.shape[-1]))
        preds = tf.cast(tf.argmax(Y_hat, axis=1), Y.dtype)
        compare = tf.cast(preds == tf.reshape(Y, (-1,)), tf.float32)
        return tf.reduce_mean(compare) if averaged else compare

    def loss(self, Y_hat, Y, averaged=True):
        """Cross-entropy of the logits Y_hat, as Keras's ``SparseCategoricalCrossentropy``."""
        Y_hat = tf.reshape(Y_hat, (-1, Y_hat.shape[-1]))
        l = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.reshape(Y, (-1,)), Y_hat)
        return tf.reduce_mean(l) if averaged else l


class SoftmaxRegression(Classifier):
    """The softmax regression model of the 1.0 edition: Flatten, then Dense(num_outputs)."""

    def __init__(self, num_outputs, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = tf.keras.models.Sequential()
        self.net.add(tf.keras.layers.Flatten())
        self.net.add(tf.keras.layers.Dense(num_outputs))
