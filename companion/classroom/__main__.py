"""``python -m companion.classroom <command>``: the instructors' command line
(:mod:`companion.classroom.instructor`)."""

import sys

from companion.classroom.instructor import main

sys.exit(main())
