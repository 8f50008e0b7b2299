"""The 1.0 edition's framework (d2l_softmax.oo_design): its helpers, models and data."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l
from d2l_softmax import oo_design

from helpers import SMALL_TEST, SMALL_TRAIN

# ---------------------------------------------------------------- the helpers


def test_add_to_class_adds_a_method_also_to_objects_made_before():
    class A:
        pass

    a = A()

    @d2l.add_to_class(A)
    def twice(self, x):
        return 2 * x

    assert a.twice(3) == 6 and A.twice is twice


def test_save_hyperparameters_saves_the_arguments_of_init():
    class B(d2l.HyperParameters):
        def __init__(self, a, b=2, _private=3, skipped=4):
            self.save_hyperparameters(ignore=["skipped"])

    b = B(1)
    assert b.hparams == {"a": 1, "b": 2} and (b.a, b.b) == (1, 2)
    assert not hasattr(b, "skipped") and not hasattr(b, "_private")


def test_raw_variables_in_lists_and_children_count_once_and_frozen_ones_not():
    class Child(d2l.Module):
        def __init__(self):
            super().__init__()
            self.v = tf.Variable(1.0)

    class Parent(d2l.Module):
        def __init__(self):
            super().__init__()
            self.a = tf.Variable(2.0)
            self.same = self.a
            self.pair = [tf.Variable(3.0), tf.Variable(4.0, trainable=False)]
            self.child = Child()

    parent = Parent()
    assert sorted(float(v) for v in parent.trainable_variables) == [1.0, 2.0, 3.0]
    parent.trainable = False
    assert parent.trainable_variables == []


def test_the_concise_model_trains_its_keras_layer():
    model = oo_design.SoftmaxRegression(num_outputs=10, lr=0.1)
    assert model(tf.zeros((2, 28, 28, 1))).shape == (2, 10)
    assert sorted(tuple(v.shape) for v in model.trainable_variables) == [(10,), (784, 10)]
    assert oo_design.SoftmaxRegression is not d2l.SoftmaxRegression  # the package's stays
    assert d2l.SoftmaxRegression is d2l.model.SoftmaxRegression


def test_classifier_loss_and_accuracy():
    Y_hat = 5 * tf.random.stateless_normal((64, 10), seed=[1, 2])
    Y = tf.random.stateless_uniform((64,), seed=[3, 4], maxval=10, dtype=tf.int32)
    model = oo_design.SoftmaxRegression(10, 0.1)
    keras = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(Y, Y_hat)
    assert float(model.loss(Y_hat, Y)) == pytest.approx(float(keras), rel=1e-6)
    assert model.loss(Y_hat, Y, averaged=False).shape == (64,)
    right = np.argmax(Y_hat.numpy(), 1) == Y.numpy()
    assert float(model.accuracy(Y_hat, Y)) == pytest.approx(right.mean())
    assert model.accuracy(Y_hat, Y, averaged=False).numpy().tolist() == right.tolist()


def test_sgd_steps_against_the_gradient():
    w = tf.Variable([1.0, 2.0])
    d2l.SGD(lr=0.5).apply_gradients([(tf.constant([2.0, -2.0]), w)])
    assert w.numpy().tolist() == [0.0, 3.0]


# ---------------------------------------------------------------- the data


def test_fashion_mnist_reads_the_local_files_in_the_batches_batch_cuts(small_dir):
    tf.random.set_seed(0)
    data = d2l.FashionMNIST(batch_size=32, data_dir=small_dir)
    images, labels = data.train
    assert images.shape == (SMALL_TRAIN, 28, 28) and data.val[0].shape == (SMALL_TEST, 28, 28)
    expected = [
        (X.numpy(), y.numpy()) for X, y in tf.data.Dataset.from_tensor_slices(data.train).batch(32)
    ]
    passes = []
    for _ in range(2):
        batches = list(data.train_dataloader())
        assert all(X.dtype == tf.float32 and y.dtype == tf.int32 for X, y in batches)
        # each batch is one that .batch() cuts, every one of them once
        found = [
            next(
                i
                for i, (E, e) in enumerate(expected)
                if np.array_equal(y, e) and np.allclose(X[..., 0], E / 255)
            )
            for X, y in batches
        ]
        assert sorted(found) == list(range(len(expected)))
        passes.append(found)
    assert passes[0] != passes[1]  # a new order each pass
    assert len(data.train_dataloader()) == 10
    val = list(data.val_dataloader())  # in order, the short batch last
    assert [len(y) for _, y in val] == [32, 32, 32, 4]
    assert np.array_equal(np.concatenate([y for _, y in val]), data.val[1])
    np.testing.assert_array_equal(
        np.concatenate([X for X, _ in val])[..., 0], data.val[0] / np.float32(255)
    )


def test_fashion_mnist_resizes_and_names_the_classes(small_dir):
    data = d2l.FashionMNIST(batch_size=8, resize=(32, 32), data_dir=small_dir)
    X, y = next(iter(data.val_dataloader()))
    assert X.shape == (8, 32, 32, 1)
    expected = tf.image.resize_with_pad(data.val[0][:8, :, :, None] / 255, 32, 32)
    np.testing.assert_allclose(X, expected, atol=1e-6)
    assert data.text_labels([0, 9]) == ["t-shirt", "ankle boot"]
    plt.close("all")
    data.visualize([X, y])
    titles = [ax.get_title() for ax in plt.gcf().axes]
    assert titles == data.text_labels(y)
    plt.close("all")


def test_get_tensorloader_shuffles_only_to_train():
    class Rows(d2l.DataModule):
        def __init__(self):
            super().__init__()
            self.batch_size = 4

    rows = tf.reshape(tf.range(30), (10, 3))
    val = list(Rows().get_tensorloader((rows,), train=False))
    assert [len(b[0]) for b in val] == [4, 4, 2]
    assert np.array_equal(np.concatenate([b[0] for b in val]), rows)
    train = np.concatenate([b[0] for b in Rows().get_tensorloader((rows,), train=True)])
    assert sorted(train[:, 0].tolist()) == list(range(0, 30, 3))
