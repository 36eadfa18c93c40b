"""checks.py: what the Python tests share. Each check prints "ok - <what>" or
"not ok - <what>" (with the reason as a diagnostic); test_python.sh numbers them into its TAP
stream. A test script ends with finish(), whose exit status says whether all passed."""

import os
import sys

import lcr

_failed = 0


def check(condition, description, detail=""):
    """Reports one check; returns the condition."""
    global _failed
    if condition:
        print(f"ok - {description}", flush=True)
    else:
        _failed += 1
        print(f"not ok - {description}", flush=True)
        if detail:
            print(f"  {detail}", flush=True)
    return bool(condition)


def raises(errno, call, description):
    """Checks that call() raises lcr.Error with `errno`; returns the error."""
    try:
        call()
    except lcr.Error as e:
        check(e.errno == errno, description, f"errno {e.errno} instead of {errno}: {e}")
        return e
    check(False, description, "no lcr.Error was raised")
    return None


def failed():
    """Whether a check failed so far."""
    return _failed > 0


def finish():
    sys.exit(1 if _failed else 0)


def leave():
    """Ends a test whose process group is still built, as finish() does but without tearing
    the group down: on PyTorch 2.6, destroy_process_group of a healthy gloo group sometimes
    never returns when its members leave at the same moment (about 1 run in 10 of
    test_recovery.py's two ranks; pytorch/pytorch#75097). What the tests check is done by then,
    and the process's exit closes the group's connections."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if _failed else 0)
