"""The classroom: what turns the lessons into a course that can be assigned and graded.

Nothing here is needed to follow a chapter's method; everything here serves exercises, quizzes
and grading.

Modules
-------
exercises
    :class:`~companion.classroom.exercises.Feedback`, the ``@check`` decorator and the helpers a
    check uses to read a student's answer.
checks
    One module per chapter (``checks.ch01_gru_vs_lstm``, ...): the checks its exercises call.
quiz
    "Check your understanding": the quizzes (``quizzes/<chapter>.yaml``) and their rendering.
assignments
    The student edition and per-student assignment notebooks.
grading
    Executing submissions and scoring their checks and quizzes; feedback and the class summary.
gradebook
    The grades in the import formats of Canvas's and Moodle's gradebooks.
instructor
    The instructors' command line, ``python -m companion.classroom <command>``.
notebooks
    The hidden Colab launch cell of every chapter (``python -m companion.classroom.notebooks``).
"""
