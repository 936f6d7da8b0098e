"""The check of chapter 0's exercise (``ex-getting-started-cnn``): train the CNN, compare mistakes.

The check cell runs ``checks.check_cnn_comparison(cnn, both_wrong, model, digits)`` after
``from companion.classroom.checks import ch00_getting_started as checks``. It returns a
:class:`~companion.classroom.exercises.Feedback`, never an exception for a wrong answer.
"""

from __future__ import annotations

from torch import nn

from companion.classroom import exercises
from companion.data import Digits
from companion.models import SmallCNN
from companion.training import accuracy, predict_logits

__all__ = ["TRAINED_ACCURACY", "check_cnn_comparison"]

TRAINED_ACCURACY = 0.9
"""The test accuracy below which the student's CNN counts as untrained (chance is 0.1)."""


def _misclassified(model: nn.Module, data: Digits) -> set[int]:
    """Indices of the test digits ``model`` gets wrong."""
    predictions = predict_logits(model, data.x_test).argmax(dim=1)  # (N,)
    return set((predictions != data.y_test).nonzero().flatten().tolist())


@exercises.check("ex-getting-started-cnn")
def check_cnn_comparison(cnn: nn.Module | None, both_wrong: object, mlp: nn.Module, data: Digits) -> str:
    """Is ``cnn`` a trained :class:`~companion.models.SmallCNN`, and ``both_wrong`` the test digits
    that it and ``mlp`` both misclassify?

    ``cnn`` and ``both_wrong`` are the student's answers: the model ``train_classifier(digits,
    "cnn", config)`` returned, and indices into ``data.x_test`` (a list, set, 1-d tensor, or an
    ``(N,)`` bool mask). ``mlp`` (the chapter's trained MLP) and ``data`` set the exercise. The
    check recomputes both models' predictions on the test digits and asks for a CNN test
    accuracy of at least :data:`TRAINED_ACCURACY`.
    """
    if not isinstance(mlp, nn.Module):
        raise TypeError(f"mlp must be a torch.nn.Module, got {type(mlp).__name__}")
    if not isinstance(data, Digits):
        raise TypeError(f"data must be companion.data.Digits, got {type(data).__name__}")
    exercises.answered(cnn, "cnn", "the model train_classifier(digits, 'cnn', config) returns")
    if not isinstance(cnn, SmallCNN):
        raise exercises.NotYet(
            f"`cnn` must be the SmallCNN that train_classifier returns for 'cnn', got {type(cnn).__name__}."
        )
    cnn_accuracy = accuracy(cnn, data.x_test, data.y_test)
    if cnn_accuracy < TRAINED_ACCURACY:
        raise exercises.NotYet(f"`cnn` gets only {cnn_accuracy:.2f} of the test digits right: is it trained?")
    what = "the indices of the test digits both models misclassify"
    got = exercises.indices(both_wrong, "both_wrong", len(data.y_test), what)
    cnn_wrong, mlp_wrong = _misclassified(cnn, data), _misclassified(mlp, data)
    truth = cnn_wrong & mlp_wrong
    if got == truth:
        return (
            f"the CNN gets {cnn_accuracy:.3f} of the test digits right; {len(truth)} of its "
            f"{len(cnn_wrong)} mistakes are also among the MLP's {len(mlp_wrong)}."
        )
    slips = (
        ("that is every test digit the CNN gets wrong; keep those the MLP gets wrong too.", cnn_wrong),
        ("that is every test digit the MLP gets wrong; keep those the CNN gets wrong too.", mlp_wrong),
        (
            "those are the digits either model gets wrong; keep only those both get wrong.",
            cnn_wrong | mlp_wrong,
        ),
    )
    for hint, mistakes in slips:
        if got == mistakes:
            raise exercises.NotYet(f"`both_wrong`: {hint}")
    for name, mistakes in (("MLP", mlp_wrong), ("CNN", cnn_wrong)):
        ordered = sorted(mistakes)  # positions in this list are not test-set indices
        if got and max(got) < len(ordered) and {ordered[i] for i in got} == truth:
            raise exercises.NotYet(
                f"`both_wrong` looks like positions in the list of the {name}'s mistakes; "
                "give indices into the test set instead."
            )
    if got < truth:
        raise exercises.NotYet("`both_wrong` misses some test digits that both models get wrong.")
    if got > truth:
        raise exercises.NotYet("`both_wrong` holds test digits that at least one model classifies correctly.")
    raise exercises.NotYet(
        "`both_wrong` is not the set of test digits both models misclassify: compare each "
        "model's predictions with the labels digits.y_test."
    )
