"""The exercise checks, one module per chapter (``ch01_gru_vs_lstm``, ...).

A chapter's check cells call ``checks.check_...`` after
``from companion.classroom.checks import chNN_topic as checks``. Importing this package imports
every chapter's module, so :data:`companion.classroom.exercises.CHECKS` then holds every check.
"""

from companion.classroom.checks import (  # noqa: F401 - importing a module registers its checks
    ch03_adversarial_training,
    ch04_boundary_attack,
)
