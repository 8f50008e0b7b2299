"""The compiled engine: how ``train_epoch_ch3`` repeats the chapter's step fast, and
the checks it wraps around any step. A learner can skip it.

- :mod:`.epoch`: one pass of a step over the data (``run_epoch``), picking the loop.
- :mod:`.loops`: the loops, one per kind of data.
- :mod:`.program`: compiling a loop (a graph or XLA), once per ``train_ch3`` call.
- :mod:`.guards`: labels in range, Python state that a trace would freeze.
- :mod:`.interrupt`: the first Ctrl-C stops training after the epoch.

How it compiles and what it refuses: ``docs/engine.md``.
"""
