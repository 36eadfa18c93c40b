"""test_store_conformance.py: lcr.torch.Store behaves like PyTorch's own stores.

The same operations run against lcr.torch.Store (on the real lcrd at $LCR_SOCKET) and
against PyTorch's HashStore and FileStore, side by side; every outcome (the value returned,
or the kind of exception raised) of lcr.torch.Store must equal PyTorch's where PyTorch's two
stores agree with each other (where they do not, the operation is reported as not compared).
Then what PyTorch code relies on:

  errors        a timeout is a RuntimeError (what the store-based barrier and elastic
                rendezvous catch) and still an lcr.Error with ETIMEDOUT, whose message names
                the timeout the call used;
  prefix        init_process_group(store=PrefixStore("pg", Store(...))) with no other
                reference to the Store, and a process group built on it, work;
  adders        4 processes adding 1 to one key 200 times each, concurrently, on FileStore
                and on lcr.torch.Store: both end at 800 with every value returned once.

Usage: test_store_conformance.py all WORKDIR | adder KIND PATH
"""

import datetime
import errno
import os
import subprocess
import sys

import torch
import torch.distributed as dist

import lcr
import lcr.torch
from checks import check, finish

ADDERS, ADDS = 4, 200
SHORT = datetime.timedelta(seconds=0.3)


def outcome(call):
    """What a store operation gave: ("value", result) or ("raises", the PyTorch-visible kind)."""
    try:
        result = call()
    except RuntimeError:
        return ("raises", "RuntimeError")
    except Exception as e:  # noqa: BLE001 - the kind is what is compared
        return ("raises", type(e).__name__)
    return ("value", bytes(result) if isinstance(result, (bytes, bytearray)) else result)


# Operations, in order, each on a fresh store of every kind (the sequence builds its state).
SCRIPT = [
    ("set a", lambda s: s.set("a", b"1")),
    ("get a", lambda s: s.get("a")),
    ("set a again", lambda s: s.set("a", "one")),
    ("get a after set with str", lambda s: s.get("a")),
    ("add n 5", lambda s: s.add("n", 5)),
    ("add n -2", lambda s: s.add("n", -2)),
    ("get n", lambda s: s.get("n")),
    ("check [a, n]", lambda s: s.check(["a", "n"])),
    ("check [a, missing]", lambda s: s.check(["a", "missing"])),
    ("compare_set c over a missing key, expected ''", lambda s: s.compare_set("c", "", "x")),
    ("compare_set c with a wrong expected value", lambda s: s.compare_set("c", "y", "z")),
    ("compare_set c with the right expected value", lambda s: s.compare_set("c", "x", "z")),
    ("compare_set d over a missing key, expected 'e'", lambda s: s.compare_set("d", "e", "f")),
    ("get c", lambda s: s.get("c")),
    ("wait [a, n]", lambda s: s.wait(["a", "n"])),
    ("wait [missing] with a short timeout", lambda s: s.wait(["missing"], SHORT)),
    ("get missing (store timeout short)", lambda s: (s.set_timeout(SHORT), s.get("missing"))[1]),
    ("delete_key a", lambda s: s.delete_key("a")),
    ("delete_key a again", lambda s: s.delete_key("a")),
    ("check [a] after delete", lambda s: s.check(["a"])),
    ("num_keys", lambda s: s.num_keys()),
    ("set through PrefixStore p", lambda s: dist.PrefixStore("p", s).set("k", b"v")),
    ("get p/k from the store under it", lambda s: s.get("p/k")),
    ("get k through PrefixStore p", lambda s: dist.PrefixStore("p", s).get("k")),
    ("add through PrefixStore p", lambda s: dist.PrefixStore("p", s).add("m", 3)),
]


def stores(workdir):
    """A fresh store of every kind, by name."""
    return {
        "HashStore": dist.HashStore(),
        "FileStore": dist.FileStore(os.path.join(workdir, "conformance.filestore"), 1),
        "lcr.torch.Store": lcr.torch.Store(lcr.Session(), "conf", timeout=datetime.timedelta(seconds=5)),
    }


def conformance(workdir):
    kinds = stores(workdir)
    for name, operation in SCRIPT:
        got = {kind: outcome(lambda: operation(store)) for kind, store in kinds.items()}
        torch_says = got["HashStore"]
        if torch_says == ("raises", "AttributeError"):
            print(f"# not compared: {name}: PyTorch {torch.__version__}'s stores have no such method")
            continue
        if got["FileStore"] != torch_says:
            print(f"# not compared: {name}: HashStore {torch_says}, FileStore {got['FileStore']}")
            continue
        check(got["lcr.torch.Store"] == torch_says, f"conformance: {name}: {torch_says}",
              f"lcr.torch.Store gave {got['lcr.torch.Store']}")


def errors():
    store = lcr.torch.Store(lcr.Session(), "errors", timeout=datetime.timedelta(seconds=5))
    try:
        store.wait(["never"], SHORT)
        check(False, "a wait that times out raises")
    except RuntimeError as e:
        check(isinstance(e, lcr.Error) and e.errno == errno.ETIMEDOUT,
              "a timed-out wait is a RuntimeError and an lcr.Error with ETIMEDOUT", repr(e))
        check(str(SHORT) in str(e) and "0:05:00" not in str(e),
              f"its message names the call's timeout ({SHORT}), not the store's", str(e))
    store_error = getattr(dist, "DistStoreError", None)
    if store_error is not None:
        store.set_timeout(SHORT)
        try:
            store.get("never-either")
            check(False, "on PyTorch 2.x a timed-out get raises")
        except store_error:
            check(True, "on PyTorch 2.x it is a torch.distributed.DistStoreError")
        except Exception as e:  # noqa: BLE001
            check(False, "on PyTorch 2.x it is a torch.distributed.DistStoreError", repr(e))


def prefix():
    # No reference to the lcr.torch.Store is kept in Python: only PrefixStore's C++ side has it.
    dist.init_process_group("gloo", store=dist.PrefixStore("pg", lcr.torch.Store(lcr.Session(), "prefix")),
                            rank=0, world_size=1, timeout=datetime.timedelta(seconds=30))
    x = torch.tensor([2.0])
    dist.all_reduce(x)
    check(x.item() == 2.0, "init_process_group on PrefixStore(Store(...)) with no other reference works")
    dist.destroy_process_group()


def adders(workdir):
    for kind in ("FileStore", "lcr.torch.Store"):
        path = os.path.join(workdir, "adders.filestore")
        processes = [subprocess.Popen([sys.executable, __file__, "adder", kind, path], stdout=subprocess.PIPE,
                                      text=True) for _ in range(ADDERS)]
        values = []
        for process in processes:
            out, _ = process.communicate()
            values += [int(v) for v in out.split()]
        check(sorted(values) == list(range(1, ADDERS * ADDS + 1)),
              f"{ADDERS} processes adding {ADDS} times each on {kind}: every value from 1 to "
              f"{ADDERS * ADDS} returned once", f"{len(values)} values, {len(set(values))} distinct")


def adder(kind, path):
    store = dist.FileStore(path, -1) if kind == "FileStore" else lcr.torch.Store(lcr.Session(), "adders")
    print(" ".join(str(store.add("counter", 1)) for _ in range(ADDS)))


if __name__ == "__main__":
    if sys.argv[1] == "adder":
        adder(sys.argv[2], sys.argv[3])
        sys.exit(0)
    conformance(sys.argv[2])
    errors()
    prefix()
    adders(sys.argv[2])
    finish()
