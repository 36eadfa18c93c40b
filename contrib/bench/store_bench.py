"""store_bench.py: lcr.torch.Store (the job-wide store) against PyTorch's TCPStore, in the
same run.

CLIENTS clients (PROCESSES processes of CLIENTS / PROCESSES threads each: PyTorch's store
calls and liblcr's calls both let go of the GIL while they wait) each run OPS operations
in turn: set of its own key, get of that key, add to one counter that every client shares.
Process p talks to the p-th helper of $LCR_BENCH_SOCKETS (colon-separated control sockets
of the helpers of one mesh, round robin; $LCR_SOCKET when unset), as ranks on several nodes
would. Each operation is timed on its own. Figures, one line each, the baseline being
TCPStore (its server in a process of its own on 127.0.0.1) under the same load:

  store_job_ops_per_s_<C>_clients   operations per second, all clients together
  store_job_p50_us_<C>_clients      median latency of one operation, microseconds
  store_job_p99_us_<C>_clients      99th percentile latency

Usage: store_bench.py CLIENTS [OPS]   (torch on the path)
"""

import datetime
import multiprocessing
import os
import socket
import sys
import threading
import time

import torch.distributed as dist

import lcr
import lcr.torch

PROCESSES = 4
TIMEOUT = datetime.timedelta(seconds=60)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_store(kind, port, name):
    if kind == "tcpstore":
        return dist.TCPStore("127.0.0.1", port, is_master=False, timeout=TIMEOUT)
    return lcr.torch.Store(lcr.Session(), name, timeout=TIMEOUT)


def client(kind, port, name, client_id, ops, latencies, start):
    store = open_store(kind, port, name)
    key = f"client{client_id}"
    start.wait()
    for i in range(ops):
        t0 = time.perf_counter_ns()
        if i % 3 == 0:
            store.set(key, str(i))
        elif i % 3 == 1:
            store.get(key)
        else:
            store.add("counter", 1)
        latencies.append(time.perf_counter_ns() - t0)


def helper_sockets():
    """The control sockets the processes spread over, in order."""
    listed = os.environ.get("LCR_BENCH_SOCKETS")
    return listed.split(":") if listed else [os.environ["LCR_SOCKET"]]


def process(kind, port, name, first_id, threads, ops, ready, go, out):
    """One process of `threads` clients; sends back every latency and its wall time."""
    sockets = helper_sockets()
    os.environ["LCR_SOCKET"] = sockets[(first_id // threads) % len(sockets)]
    latencies = []
    start = threading.Barrier(threads + 1)
    workers = [threading.Thread(target=client, args=(kind, port, name, first_id + t, ops, latencies, start))
               for t in range(threads)]
    for w in workers:
        w.start()
    ready.put(True)
    go.wait()
    start.wait()
    for w in workers:
        w.join()
    out.put(latencies)


def measure(kind, clients, ops):
    """(operations per second, latencies in ns) of `clients` clients on a store of `kind`."""
    port = free_port()
    server = dist.TCPStore("127.0.0.1", port, is_master=True, timeout=TIMEOUT) if kind == "tcpstore" else None
    name = f"bench{clients}{os.getpid() % 1000}"
    ctx = multiprocessing.get_context("fork")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    per_process = clients // PROCESSES
    procs = [ctx.Process(target=process, args=(kind, port, name, p * per_process, per_process, ops, ready, go, out))
             for p in range(PROCESSES)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    t0 = time.perf_counter()
    go.set()
    latencies = []
    for _ in procs:
        latencies += out.get()
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    if kind == "tcpstore":
        counter = int(server.get("counter"))
    else:
        counter = int(lcr.torch.Store(lcr.Session(helper_sockets()[-1]), name).get("counter"))
    expected = sum(1 for i in range(ops) if i % 3 == 2) * clients
    if counter != expected:
        sys.exit(f"store_bench: {kind}: the shared counter is {counter}, not {expected}")
    return len(latencies) / wall, sorted(latencies)


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def result(name, value, unit, baseline):
    print(f"RESULT name={name} value={value:.1f} unit={unit} baseline={baseline:.1f} ratio={value / baseline:.3f}")


def main():
    clients = int(sys.argv[1])
    ops = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    if clients % PROCESSES:
        sys.exit(f"store_bench: CLIENTS must be a multiple of {PROCESSES}")
    lcr_rate, lcr_lat = measure("lcr", clients, ops)
    tcp_rate, tcp_lat = measure("tcpstore", clients, ops)
    print(f"# {clients} clients x {ops} operations on {len(helper_sockets())} helpers: lcr.torch.Store "
          f"{lcr_rate:.0f} ops/s, TCPStore {tcp_rate:.0f} ops/s")
    result(f"store_job_ops_per_s_{clients}_clients", lcr_rate, "ops/s", tcp_rate)
    result(f"store_job_p50_us_{clients}_clients", percentile(lcr_lat, 0.5) / 1e3, "us",
           percentile(tcp_lat, 0.5) / 1e3)
    result(f"store_job_p99_us_{clients}_clients", percentile(lcr_lat, 0.99) / 1e3, "us",
           percentile(tcp_lat, 0.99) / 1e3)


if __name__ == "__main__":
    main()
