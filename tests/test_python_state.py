"""The fingerprint of what a trace bakes in: it changes exactly when a new trace would
differ, and it stays the same while nothing changed (so programs are reused)."""
import tensorflow as tf

import d2l_softmax as d2l
from d2l_softmax.python_state import python_state

CELL = """
import tensorflow as tf
W = tf.Variable(tf.zeros((4, 3)))
scale = 2.0
def helper(Z):
    return Z * scale
def net(X):
    return helper(tf.matmul(X, W))
"""


def _state(*objects):
    return python_state(*objects)[0]


def test_a_rebound_global_or_a_new_number_changes_the_state():
    ns = {}
    exec(CELL, ns)
    net = ns["net"]
    first = _state(net)
    assert _state(net) == first and hash(_state(net)) == hash(first)
    ns["W"].assign(tf.ones((4, 3)))  # a new value in the same variable: read when run
    assert _state(net) == first
    exec("W = tf.Variable(tf.zeros((4, 3)))", ns)  # a new variable under the same name
    second = _state(net)
    assert second != first
    ns["scale"] = 3.0  # a number the helper reads: a constant in the program
    assert _state(net) != second
    ns["scale"] = 2.0
    assert _state(net) == second


def test_what_a_dict_holds_is_followed():
    """A net reading ``params["W"]``, a loss reading ``hp["wd"]``: a new variable or a new
    number in the dict is a new state; the same contents are the same state."""
    params, hp = {"W": tf.Variable(tf.zeros((4, 3)))}, {"wd": 0.0}

    def net(X):
        return tf.matmul(X, params["W"]) * (1 + hp["wd"])
    first = _state(net)
    params["W"].assign(tf.ones((4, 3)))
    assert _state(net) == first
    params["W"] = tf.Variable(tf.zeros((4, 3)))
    second = _state(net)
    assert second != first
    hp["wd"] = 1.0
    assert _state(net) != second
    hp["wd"] = 0.0
    assert _state(net) == second


def test_objects_closures_methods_and_tf_functions_are_followed():
    class Updater:  # the book's: lr is a Python float
        def __init__(self, params, lr):
            self.params, self.lr = params, lr

        def __call__(self, batch_size, grads):
            d2l.sgd(self.params, grads, self.lr, batch_size)

    W = tf.Variable(1.0)
    updater = Updater([W], 0.1)
    before = _state(updater)
    updater.lr = 0.05
    assert _state(updater) != before
    updater.params = [tf.Variable(1.0)]
    after = _state(updater)
    assert after != _state(Updater([W], 0.05))

    k = [1.0]

    def make():
        factor = k[0]
        return lambda X: X * factor

    assert _state(make()) != _state((k.__setitem__(0, 2.0), make())[1])  # closure value
    assert _state(updater.__call__) == _state(updater.__call__)         # a bound method
    wrapped = tf.function(lambda X: X * W)
    assert _state(wrapped) == _state(wrapped)
    wrapped(tf.constant(1.0))  # calling a tf.function changes its own counters, not this
    assert _state(wrapped) == _state(wrapped)


def test_the_package_objects_are_stable_and_cycles_end():
    net = d2l.SoftmaxRegression(seed=0)
    updater = d2l.Updater(net.params, 0.1)
    state = _state(net, d2l.cross_entropy, updater)
    updater.lr = 0.01  # kept in a variable: the program reads it when it runs
    assert _state(net, d2l.cross_entropy, updater) == state
    loop = [1.0]
    loop.append(loop)
    assert _state(loop) == _state(loop)
    long = list(range(1000))
    assert python_state(long)[2] is False  # not walked: the state is incomplete


def test_modules_partials_classes_arrays_sets_and_slots_are_followed():
    """Each holds a number the program would bake in: changing it changes the state."""
    import dataclasses
    import functools
    import types

    import numpy as np
    config = types.ModuleType("config")  # a user's module (no file in a library)
    config.wd = 0.0

    class Scaled:
        k = 1.0  # a class attribute, read as self.k

    @dataclasses.dataclass(slots=True)
    class Slotted:
        k: float = 1.0
    array, chosen, slotted = np.zeros(3, np.float32), {1, 2}, Slotted()
    holders = [(config, lambda: setattr(config, "wd", 1.0)),
               (functools.partial(lambda a, b: a * b, b=2.0), None),
               (Scaled(), lambda: setattr(Scaled, "k", 5.0)),
               (array, lambda: array.__setitem__(0, 1.0)),
               (chosen, lambda: chosen.add(3)),
               (slotted, lambda: setattr(slotted, "k", 2.0))]
    for holder, change in holders:
        state, _, complete = python_state(holder)
        assert complete and _state(holder) == state
        if change is not None:
            change()
            assert _state(holder) != state, holder
    partial = holders[1][0]
    assert _state(partial) != _state(functools.partial(partial.func, b=3.0))
    big = np.zeros(1_000_000, np.float32)
    assert python_state(big)[2] is False  # too large to read each epoch: incomplete


def test_what_counts_by_identity_is_kept():
    ns = {}
    exec(CELL, ns)
    state, kept, complete = python_state(ns["net"])
    assert complete
    assert any(obj is ns["W"] for obj in kept) and any(obj is ns["net"] for obj in kept)


SCALED_CELL = """
import tensorflow as tf
SCALE = 1.0
class Base:
    offset = 0.0
class Net(Base):
    def __call__(self, X):
        return self.forward(X) * self.gain
    def forward(self, X):       # a method other than __call__, reading a global
        return X * SCALE + self.offset
    @property
    def gain(self):             # a property reading a global
        return GAIN
GAIN = 1.0
cfg = {"k": 1.0}
def with_default(X, c=cfg):     # a default argument holding a number
    return X * c["k"]
"""


def test_methods_properties_bases_and_defaults_are_followed():
    ns = {"__name__": "__main__"}  # a notebook's cell (Jupyter's __main__ is its launcher)
    exec(SCALED_CELL, ns)
    net, fn = ns["Net"](), ns["with_default"]
    for change in ('SCALE = 5.0', 'GAIN = 2.0', 'Base.offset = 1.0', 'cfg["k"] = 3.0'):
        before = (_state(net), _state(fn))
        exec(change, ns)
        assert (_state(net), _state(fn)) != before, change
    assert python_state(net, fn)[2]
