"""Sphinx extension: execute the notebooks without pyzmq's lost wake-ups.

myst-nb runs each notebook through nbclient inside the Sphinx process; nbclient waits for a
cell's reply with an asyncio poll that pyzmq now and then fails to wake (zeromq/pyzmq#1558),
and the build then sleeps out the whole cell timeout before carrying on. The fix lives in
:func:`companion.runtime.poll_kernels_in_slices`, which the grader and the benchmark call too.
"""

from sphinx.application import Sphinx

from companion.runtime import poll_kernels_in_slices


def setup(app: Sphinx) -> dict:
    poll_kernels_in_slices()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
