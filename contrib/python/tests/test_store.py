"""test_store.py: lcr.torch.Store against a real lcrd ($LCR_SOCKET).

  semantics     set/get/check/wait/delete_key/num_keys/compare_set, long keys, timeouts;
                forget(prefix) deletes only the keys this Store wrote under the prefix;
  atomic        4 processes add 1 to one key 200 times each, concurrently: the sum is 800
                and every add returned a different value (no increment lost or doubled);
  gloo RANK     one of 2 ranks: init_process_group(gloo) on the Store, all_reduce, destroy,
                and again in the same process under another PrefixStore.
"""

import datetime
import errno
import subprocess
import sys

import torch
import torch.distributed as dist

import lcr
import lcr.torch
from checks import check, finish, raises

ADDERS, ADDS = 4, 200


def store(prefix):
    return lcr.torch.Store(lcr.Session(), prefix, timeout=datetime.timedelta(seconds=2))


def semantics():
    s = store("sem")
    s.set("a", b"1")
    s.set("b", "two")
    check(s.get("a") == b"1" and s.get("b") == b"two", "set then get returns the value")
    check(s.num_keys() == 2, "num_keys counts the keys set", str(s.num_keys()))
    check(s.check(["a", "b"]) and not s.check(["a", "c"]), "check tells whether all keys exist")
    check(s.add("n", 5) == 5 and s.add("n", -2) == 3 and s.get("n") == b"3",
          "add starts at 0; get reads its decimal value")
    check(s.delete_key("a") and not s.delete_key("a") and not s.check(["a"]), "delete_key removes a key once")
    check(s.num_keys() == 2, "num_keys follows deletes and adds", str(s.num_keys()))
    raises(errno.ETIMEDOUT, lambda: s.get("a"), "get of a deleted key times out")
    raises(errno.ETIMEDOUT, lambda: s.wait(["b", "never"], datetime.timedelta(seconds=0.2)),
           "wait for a key that never comes times out")
    check(s.compare_set("c", "", "x") == b"x" and s.compare_set("c", "y", "z") == b"x"
          and s.compare_set("c", "x", "z") == b"z", "compare_set sets only over the expected value")
    long_key = "k" * 200
    s.set(long_key, b"long")
    check(s.get(long_key) == b"long", "a key longer than the helper's 63 bytes works")
    check(store("other").check(["b"]) is False, "stores with other prefixes do not see each other's keys")
    forgetting()


def forgetting():
    """forget(prefix): the keys this Store wrote under a prefix (as a PrefixStore's and a
    counter's), and no other."""
    s, other = store("forget"), store("forget")
    dist.PrefixStore("epoch-1", s).set("pg/addr0", b"x")
    s.add("epoch-1.arrived", 1)
    other.set("epoch-1/pg/addr1", b"y")  # another process's key
    s.set("epoch-2/pg/addr0", b"z")
    s.set("epoch-10/pg/addr0", b"w")
    before = s.num_keys()
    check(s.forget("epoch-1") == 2, "forget deletes the two keys this Store wrote under epoch-1")
    check(not s.check(["epoch-1/pg/addr0"]) and not s.check(["epoch-1.arrived"]),
          "... the prefixed key and the counter are gone")
    check(s.check(["epoch-1/pg/addr1", "epoch-2/pg/addr0", "epoch-10/pg/addr0"]),
          "... another writer's key, epoch-2's and epoch-10's stay")
    check(s.num_keys() == before - 2 and s.written_keys() == {"epoch-2/pg/addr0", "epoch-10/pg/addr0"},
          "... num_keys and the written keys follow", f"{s.num_keys()} keys, {sorted(s.written_keys())}")


def atomic():
    adders = [subprocess.Popen([sys.executable, __file__, "adder"], stdout=subprocess.PIPE, text=True)
              for _ in range(ADDERS)]
    values = []
    for adder in adders:
        out, _ = adder.communicate()
        values += [int(v) for v in out.split()]
    check(store("atomic").get("counter") == str(ADDERS * ADDS).encode(),
          f"{ADDERS} processes adding {ADDS} times each end at {ADDERS * ADDS}")
    check(sorted(values) == list(range(1, ADDERS * ADDS + 1)), "every add returned a different value")


def adder():
    s = store("atomic")
    print(" ".join(str(s.add("counter", 1)) for _ in range(ADDS)))


def gloo(rank):
    s = store("gloo")
    for generation in range(2):
        dist.init_process_group("gloo", store=dist.PrefixStore(f"g{generation}", s), rank=rank, world_size=2,
                                timeout=datetime.timedelta(seconds=30))
        x = torch.tensor([rank + 1.0])
        dist.all_reduce(x)
        check(x.item() == 3.0, f"rank {rank}: process group {generation} built on the Store reduces")
        dist.destroy_process_group()


if __name__ == "__main__":
    {"semantics": semantics, "atomic": atomic, "adder": adder}.get(sys.argv[1], lambda: gloo(int(sys.argv[2])))()
    if sys.argv[1] != "adder":
        finish()
