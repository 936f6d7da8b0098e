"""The exercise checks, one module per chapter (``ch01_gru_vs_lstm``, ...).

A chapter's check cells call ``checks.check_...`` after
``from companion.classroom.checks import chNN_topic as checks``. Importing this package imports
every chapter's module, so :data:`companion.classroom.exercises.CHECKS` then holds every check.
"""

from companion.classroom.checks import (
    ch00_getting_started,
    ch01_gru_vs_lstm,
    ch02_defensive_distillation,
    ch03_adversarial_training,
    ch04_boundary_attack,
    ch05_capped_objectives,
    ch06_probability_exercise,
)

__all__ = [
    "ch00_getting_started",
    "ch01_gru_vs_lstm",
    "ch02_defensive_distillation",
    "ch03_adversarial_training",
    "ch04_boundary_attack",
    "ch05_capped_objectives",
    "ch06_probability_exercise",
]
