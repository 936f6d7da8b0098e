import pytest

from companion.classroom import exercises
from companion.classroom.exercises import FEEDBACK_KEY, Feedback, NotYet


def _check_half():
    if "ex-test-half" in exercises.CHECKS:
        return exercises.CHECKS["ex-test-half"]

    @exercises.check("ex-test-half")
    def check_half(half):
        got = exercises.call(half, "half", 8)
        if got != 4:
            raise NotYet("half(8) should be a number of which 8 is twice.")
        return "half halves."

    return check_half


def test_a_check_returns_feedback_for_right_and_wrong_answers():
    check_half = _check_half()
    right = check_half(lambda x: x / 2)
    assert right == Feedback("ex-test-half", True, "half halves.") and right
    assert str(right) == "Correct (ex-test-half): half halves."
    wrong = check_half(lambda x: x)
    assert not wrong.correct and str(wrong).startswith("Not yet (ex-test-half): half(8)")
    assert exercises.CHECKS["ex-test-half"] is check_half and check_half.exercise == "ex-test-half"


def _stub(x):
    raise NotImplementedError


@pytest.mark.parametrize(
    "answer, hint",
    [
        (None, "`half` is still None: define it as a function."),
        (3, "`half` must be a function, got int."),
        (_stub, "still raises NotImplementedError"),
        (lambda x: 1 / 0, "`half` raised ZeroDivisionError"),
    ],
)
def test_a_check_never_raises_on_the_answer(answer, hint):
    feedback = _check_half()(answer)
    assert not feedback.correct and hint in feedback.message


def test_answered_reports_an_unanswered_value():
    assert exercises.answered(0, "answer", "a number") == 0
    with pytest.raises(NotYet, match=r"`answer` is still None: set it to a number"):
        exercises.answered(None, "answer", "a number")


def test_feedback_carries_its_verdict_for_the_grader():
    data, metadata = Feedback("ex-x", False, "hint")._repr_mimebundle_()
    assert metadata[FEEDBACK_KEY] == {"exercise": "ex-x", "correct": False, "message": "hint"}
    assert data == {"text/plain": "Not yet (ex-x): hint"}, "the book renders only text"


def test_check_refuses_bad_labels_and_duplicates():
    with pytest.raises(ValueError, match="exercise must be a label starting with 'ex-'"):
        exercises.check("half")
    _check_half()
    with pytest.raises(ValueError, match="already has a check"):
        exercises.check("ex-test-half")


def test_every_check_in_the_companion_is_registered_under_a_book_label():
    from test_assignments import instructor_notebooks

    import companion.classroom.checks  # noqa: F401

    labels = {label for nb in instructor_notebooks().values() for label in _check_labels(nb)}
    registered = {label for label in exercises.CHECKS if not label.startswith("ex-test-")}
    assert registered == labels, "every check cell uses a registered check and every check is used"


def test_a_companion_function_that_answers_the_exercise_is_unavailable_while_the_answer_runs():
    from companion import probability

    if "ex-test-table" not in exercises.CHECKS:

        @exercises.check("ex-test-table", unavailable=("companion.probability.joint_distribution",))
        def check_table(table_of):
            got = exercises.call(table_of, "table_of", [0.5, 0.5])
            if got != {"00": 0.25, "01": 0.25, "10": 0.25, "11": 0.25}:
                raise NotYet("each entry is a product of two probabilities.")
            return "a table."

    check = exercises.CHECKS["ex-test-table"]
    assert exercises.UNAVAILABLE["ex-test-table"] == ("companion.probability.joint_distribution",)
    own = check(lambda p: {f"{a}{b}": (p[0] if a else 1 - p[0]) * (p[1] if b else 1 - p[1])
                           for a in (0, 1) for b in (0, 1)})  # fmt: skip
    assert own.correct, own
    for shortcut in (probability.joint_distribution, lambda p: dict(probability.joint_distribution(p))):
        refused = check(shortcut)
        assert not refused.correct and refused.message.startswith(
            "`table_of` raised RuntimeError: companion.probability.joint_distribution is unavailable in "
            "exercise ex-test-table: it answers the exercise in one call"
        ), refused
    assert probability.joint_distribution([1.0])["1"] == 1.0, "restored once the check is done"


def test_unavailable_nests_restores_after_errors_and_refuses_bad_names():
    from companion import boundary

    original = boundary.accept.__code__
    name = "companion.boundary.accept"
    with pytest.raises(ZeroDivisionError), exercises.unavailable({name: "ex-a"}):
        with exercises.unavailable({name: "ex-b"}):  # already unavailable: left to the outer block
            assert boundary.accept.__code__ is not original
        assert boundary.accept.__code__ is not original
        raise ZeroDivisionError
    assert boundary.accept.__code__ is original
    with pytest.raises(TypeError, match="blocked must be a mapping"):
        with exercises.unavailable([name]):
            pass
    with pytest.raises(ValueError, match="companion.nope.accept names no function of the companion"):
        with exercises.unavailable({"companion.nope.accept": "ex-a"}):
            pass
    with pytest.raises(TypeError, match="must name a plain Python function"):
        with exercises.unavailable({"companion.boundary.BoundaryResult": "ex-a"}):
            pass
    with pytest.raises(TypeError, match="unavailable must be a sequence of dotted names"):
        exercises.check("ex-test-bad", unavailable="companion.boundary.accept")


def test_every_unavailable_function_of_the_checks_exists_and_can_be_made_unavailable():
    import companion.classroom.checks  # noqa: F401

    named = {name: label for label, names in exercises.UNAVAILABLE.items() for name in names}
    assert "companion.probability.joint_distribution" in named and "companion.boundary.accept" in named
    real = {n: label for n, label in named.items() if not label.startswith("ex-test-")}
    with exercises.unavailable(real):
        pass


def _check_labels(nb):
    return [
        c.metadata["companion"]["exercise"]
        for c in nb.cells
        if c.metadata.get("companion", {}).get("role") == "check"
        and not c.metadata["companion"]["exercise"].startswith("quiz-")
    ]


def test_number_accepts_numbers_and_one_element_tensors_only():
    import numpy as np
    import torch

    assert exercises.number(2, "x") == 2.0 and exercises.number(np.float32(0.5), "x") == 0.5
    assert exercises.number(torch.tensor([1.5]), "x") == 1.5
    assert exercises.number(np.array([[2.5]]), "x") == 2.5 and exercises.number(np.int64(3), "x") == 3.0
    for bad, kind in ((True, "bool"), ("1", "str"), (torch.ones(2), "Tensor"), (np.bool_(True), "bool")):
        with pytest.raises(NotYet, match=f"`x` must be a number, got {kind}"):
            exercises.number(bad, "x")
    for bad in (float("nan"), float("inf"), torch.tensor(-float("inf"))):
        with pytest.raises(NotYet, match=r"`x` must be a number, got (nan|-?inf)\."):
            exercises.number(bad, "x")
    with pytest.raises(NotYet, match="`N` is still None: set it to a whole number"):
        exercises.number(None, "N", "a whole number")
    with pytest.raises(NotYet, match="`N` must be a whole number, got str"):
        exercises.number("7", "N", "a whole number")


def test_probability_numbers_tensor_and_boolean_read_an_answer_or_say_what_is_off():
    import numpy as np
    import torch

    assert exercises.probability(torch.tensor(0.25), "answer") == 0.25
    with pytest.raises(NotYet, match=r"`answer` is 1.5, but a probability lies in \[0, 1\]"):
        exercises.probability(1.5, "answer")
    assert exercises.numbers(np.array([1, 2.5]), "m", "two numbers", count=2) == [1.0, 2.5]
    assert exercises.numbers((torch.tensor(1.0), 2), "m", "two numbers") == [1.0, 2.0]
    cases = [
        ("12", r"`m` must be two numbers, got str"),
        ([1.0], r"`m` must be two numbers: 2 numbers, got 1"),
        ([1.0, "a"], r"`m\[1\]` must be a number, got str"),
        (None, r"`m` is still None: set it to two numbers"),
    ]
    for bad, match in cases:
        with pytest.raises(NotYet, match=match):
            exercises.numbers(bad, "m", "two numbers", count=2)
    got = exercises.tensor([[0, 1]], "P_hat", "estimates")
    assert got.dtype == torch.float64 and got.shape == (1, 2)
    assert exercises.tensor(torch.ones(3, requires_grad=True), "P_hat", "estimates").requires_grad is False
    with pytest.raises(NotYet, match="`P_hat` must be estimates, got str"):
        exercises.tensor("abc", "P_hat", "estimates")
    assert exercises.boolean(np.bool_(False), "independent") is False
    with pytest.raises(NotYet, match="`independent` must be True or False, got int"):
        exercises.boolean(1, "independent")
    with pytest.raises(NotYet, match="`independent` is still None: set it to True or False"):
        exercises.boolean(None, "independent")


def test_integer_indices_and_mapping_read_an_answer_or_say_what_is_off():
    import numpy as np
    import torch

    assert exercises.integer(np.int32(640), "count") == 640 and exercises.integer(torch.tensor(7), "n") == 7
    for bad, kind in (
        ("1920", "str"),
        (1920.0, "float"),
        (True, "bool"),
        (torch.ones(2, dtype=int), "Tensor"),
    ):
        with pytest.raises(NotYet, match=f"`count` must be an int, got {kind}"):
            exercises.integer(bad, "count")
    with pytest.raises(NotYet, match="`count` is still None: set it to an int"):
        exercises.integer(None, "count")
    with pytest.raises(NotYet, match="`x` must be a number, got ndarray with 3 values"):
        exercises.number(np.ones(3), "x")

    mask = torch.tensor([True, False, True, False])
    assert exercises.indices(mask, "wrong", 4) == {0, 2}
    assert (
        exercises.indices(np.array([3, 1]), "wrong", 4)
        == {1, 3}
        == exercises.indices((np.int64(3), 1), "wrong", 4)
    )
    assert exercises.indices(torch.tensor([], dtype=torch.long), "wrong", 4) == set()
    cases = [
        (None, "`wrong` is still None: set it to the mistakes"),
        ("1, 2", r"`wrong` must be the mistakes \(a list, set or 1-d tensor of ints\), got str"),
        (torch.zeros(2, 2, dtype=torch.long), r"integer indices, got an array of int64 with shape \(2, 2\)"),
        (torch.tensor([True, False]), "integer indices, got an array of bool"),  # a mask of the wrong length
        ([1.5], "`wrong` must hold integer indices"),
        ([True], "`wrong` must hold integer indices"),
        ([4], "`wrong` must hold indices from 0 to 3"),
        ({-1}, "`wrong` must hold indices from 0 to 3"),
    ]
    for bad, match in cases:
        with pytest.raises(NotYet, match=match):
            exercises.indices(bad, "wrong", 4, "the mistakes")

    table = {"a": 1}
    assert exercises.mapping(table, "rates", "a dict") is table
    with pytest.raises(NotYet, match=r"`rates` must be a dict \{loss: rate\}, got list"):
        exercises.mapping([1], "rates", "a dict {loss: rate}")
    with pytest.raises(NotYet, match="`rates` is still None: set it to a dict"):
        exercises.mapping(None, "rates", "a dict")
