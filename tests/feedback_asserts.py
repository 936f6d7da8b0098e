"""Assertions the exercise-check tests share."""

from companion.classroom import exercises


def stub(*args):
    """An untouched exercise stub: it still raises NotImplementedError."""
    raise NotImplementedError  # your code


def not_yet(feedback, *fragments):
    """``feedback`` is a Not yet whose message holds every fragment; returns the message."""
    assert isinstance(feedback, exercises.Feedback) and feedback.correct is False, feedback
    assert str(feedback).startswith("Not yet"), feedback
    for fragment in fragments:
        assert fragment in feedback.message, (fragment, feedback.message)
    return feedback.message
