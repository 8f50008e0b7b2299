"""The ``d2l-softmax`` command: its arguments, one-line errors and exit codes
(:mod:`.main`), and what ``train``, ``evaluate`` and ``predict`` do (:mod:`.commands`).
"""
