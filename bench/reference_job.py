"""Reference benchmark: how fast the simulator runs a job, against plain Python.

The job: a parallel sequence source -> map -> filter -> key_by (10,000 keys)
-> keyed running sum -> sink, at parallelism 4 on 2 TaskManagers. The same
user functions are then called once per record per stage in a plain Python
loop. Prints both rates, their ratio, SimPy events per record and peak memory.
Each side runs `--repeat` times, alternating, and the best time counts (as
`timeit` does), so that other load on the machine distorts the ratio less.

    python bench/reference_job.py [--records 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import time

from sim import ClusterSpec, Simulation, TraceLevel
from sim.api import NumberSequenceSource, StreamExecutionEnvironment

KEYS = 10_000


def to_pair(i: int) -> tuple[int, int]:
    return (i % KEYS, i)


def keep(pair: tuple[int, int]) -> bool:
    return pair[1] % 7 != 0


def key_of(pair: tuple[int, int]) -> int:
    return pair[0]


def add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return (a[0], a[1] + b[1])


def discard(value: object) -> None:
    pass


def simulated(records: int) -> tuple[float, int, int, str]:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(4)
    (env.from_source(NumberSequenceSource(0, records - 1))
        .map(to_pair).filter(keep).key_by(key_of).reduce(add).add_sink(discard))
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=2, cores_per_task_manager=2)
    simulation = Simulation(env, cluster=cluster, seed=1, trace_level=TraceLevel.JOB)
    start = time.perf_counter()
    result = simulation.run()
    elapsed = time.perf_counter() - start
    assert result.status == "FINISHED", result.summary()
    return elapsed, result.events_processed, len(result.sink_logs["sink"].values), result.digest


def plain(records: int) -> tuple[float, int]:
    state: dict[int, tuple[int, int]] = {}
    written = 0
    start = time.perf_counter()
    for i in range(records):
        pair = to_pair(i)
        if not keep(pair):
            continue
        key = key_of(pair)
        current = state.get(key)
        current = pair if current is None else add(current, pair)
        state[key] = current
        discard(current)
        written += 1
    return time.perf_counter() - start, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    records = args.records
    plain_runs, sim_runs = [], []
    for _ in range(args.repeat):
        plain_runs.append(plain(records))
        sim_runs.append(simulated(records))
    plain_s, plain_out = min(plain_runs)
    sim_s, events, sim_out, digest = min(sim_runs)
    assert len({run[3] for run in sim_runs}) == 1, "the simulated runs differ: determinism is broken"
    assert sim_out == plain_out, f"simulated sink wrote {sim_out} records, plain loop {plain_out}"
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"records                 {records:>12,}  (best of {args.repeat})")
    print(f"plain Python            {records / plain_s:>12,.0f} records/s  ({plain_s:.2f} s)")
    print(f"simulated               {records / sim_s:>12,.0f} records/s  ({sim_s:.2f} s)")
    print(f"ratio simulated/plain   {plain_s / sim_s:>12.3f}")
    print(f"SimPy events            {events:>12,}  ({events / records:.4f} per record)")
    print(f"peak memory (RSS)       {peak_mib:>12,.0f} MiB")
    print(f"trace digest            {digest[:16]}")


if __name__ == "__main__":
    main()
