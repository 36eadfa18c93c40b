"""checks.py: what the Python tests share. Each check prints "ok - <what>" or
"not ok - <what>" (with the reason as a diagnostic); test_python.sh numbers them into its TAP
stream. A test script ends with finish(), whose exit status says whether all passed."""

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
