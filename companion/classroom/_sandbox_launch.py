"""Set a grading kernel's limits, drop to its own user, then become the kernel.

Run as a script (``python -I _sandbox_launch.py LIMITS_JSON -- KERNEL_CMD ...``), never imported
through the package, so that it starts in milliseconds (no ``torch``): see
:mod:`companion.classroom.sandbox`. ``LIMITS_JSON`` holds ``memory`` (bytes of address space),
``cpu`` (seconds of CPU time), ``processes``, ``file_size`` (bytes) and ``uid`` (or ``null``:
keep the caller's user). The scratch folder and the connection file must already belong to
``uid``.
"""

import json
import os
import resource
import sys


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        raise SystemExit("usage: _sandbox_launch.py LIMITS_JSON -- KERNEL_CMD ...")
    limits = json.loads(argv[0])
    for name, key in (("RLIMIT_AS", "memory"), ("RLIMIT_CPU", "cpu"), ("RLIMIT_FSIZE", "file_size")):
        value = int(limits[key])
        hard = value + 5 if key == "cpu" else value  # SIGXCPU first, then SIGKILL 5 s later
        resource.setrlimit(getattr(resource, name), (value, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    uid = limits.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setgid(int(uid))
        os.setuid(int(uid))
        # after the switch: root ignores RLIMIT_NPROC, the kernel's own user does not
        processes = int(limits["processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    # ipykernel ends itself when its parent's pid changes; in a pid namespace the grader's pid is
    # not visible (bubblewrap's --die-with-parent ends the kernel with the grader instead)
    os.environ.pop("JPY_PARENT_PID", None)
    os.execvp(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
