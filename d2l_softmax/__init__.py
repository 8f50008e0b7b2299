"""Softmax regression from scratch in TensorFlow, as the chapter of Dive into Deep Learning
teaches it. ``import d2l_softmax as d2l`` gives the chapter's helpers under the book's names.
"""
import os

# TensorFlow's C++ start-up notes (CPU features, XLA) drown the chapter's output;
# errors still show. Set TF_CPP_MIN_LOG_LEVEL=0 before importing to see everything.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .data import (DataNotFoundError, TEXT_LABELS, find_fashion_mnist, get_fashion_mnist_labels,
                   load_data_fashion_mnist, read_fashion_mnist, read_idx)
from .metrics import Accumulator, accuracy, confusion_matrix, evaluate_accuracy
from .model import (CrossEntropy, SoftmaxRegression, cross_entropy, default_model, net,
                    softmax, softmax_naive, softmax_regression_grad)
from .optim import AnalyticUpdater, Updater, cosine_schedule, sgd
from .plot import (Animator, plot_confusion_matrix, save_figure, set_axes, show_images,
                   show_weights, use_svg_display)
from .train import (CompileError, History, TrainingDivergedError, cache_compiled_programs,
                    make_train_step, predict_ch3, predict_labels, train_ch3, train_epoch_ch3)

__version__ = "0.1.0"
