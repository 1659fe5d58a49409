"""HiGHS, set up the same way wherever innofin solves a linear or integer programme: no banner
on standard output, no log, a fixed random seed, the time limit and relative gap given, and the
solver's name and version for the records."""

from __future__ import annotations

import ctypes
import os
import sys
import threading

import highspy
import numpy as np

RANDOM_SEED = 20240601
HIGHS_INT = np.int32  # HiGHS index type


_banner_lock = threading.Lock()
_banner_shown = False


def _new_highs() -> highspy.Highs:
    """A HiGHS instance, without the banner the first one in a process writes to the process's
    standard output (from C, before any option can be set; in a pipe it surfaced in the middle
    of the command's own output). Standard output points to /dev/null while it is made."""
    global _banner_shown
    with _banner_lock:
        if _banner_shown:
            return highspy.Highs()  # type: ignore[no-untyped-call]
        sys.stdout.flush()
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            h = highspy.Highs()  # type: ignore[no-untyped-call]
            ctypes.CDLL(None).fflush(None)  # what C buffered goes to /dev/null too
        finally:
            os.dup2(saved, 1)
            os.close(null)
            os.close(saved)
        _banner_shown = True
        return h


def highs(time_limit: float, mip_gap: float) -> highspy.Highs:
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", RANDOM_SEED)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    return h


def solver_name() -> str:
    """The solver and its version, e.g. "HiGHS 1.15.1"."""
    version = (
        highspy.HIGHS_VERSION_MAJOR,
        highspy.HIGHS_VERSION_MINOR,
        highspy.HIGHS_VERSION_PATCH,
    )
    return "HiGHS " + ".".join(str(v) for v in version)
