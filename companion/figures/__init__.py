"""Each chapter's figures and explorers, one module per lesson (``figures.rnn``, ...).

A figures module imports its lesson module (``companion.rnn``) and the shared ``plotting`` and
``widgets``; a lesson module never imports its figures, so the method reads without them.
"""
