"""``python -m companion.classroom <command>``: the instructors' command line
(:mod:`companion.classroom.instructor`)."""

import sys

from companion.classroom.instructor import main

if __name__ == "__main__":  # not when a parallel grader's worker imports it
    sys.exit(main())
