"""Companion package of the course *Gates, Gradients and Adversaries*.

The package has three parts (``CONTRIBUTING.md`` maps them).

The shared core
    ``runtime`` (:func:`seed_everything`, the one randomness convention, progress bars),
    ``data`` (the bundled 8x8 digits), ``models`` (the shared classifiers), ``training`` (one
    seeded training loop with a per-batch loss hook), ``attacks`` (FGSM, PGD, Carlini-Wagner),
    ``plotting``, ``widgets`` and ``validation`` (the ``require_*`` argument validators).
The lessons
    One module per chapter topic holding its method: ``rnn``, ``distillation``,
    ``adversarial``, ``boundary``, ``objectives``, ``probability``; their figures and
    explorers are in ``companion.figures.<topic>``.
The classroom
    ``companion.classroom``: exercise checks (one module per chapter in
    ``classroom.checks``), quizzes, assignments, grading and the instructors' command line.
"""

from companion.runtime import default_device, progress, seed_everything

__version__ = "0.1.0"

__all__ = ["__version__", "default_device", "progress", "seed_everything"]
