"""The same keyed job on the heap backend and on embedded RocksDB with incremental checkpoints.

Teaching point: a state backend decides where keyed state lives and how it is
checkpointed. An online shop counts orders per product. At the start it loads
its catalogue (one count for each of 5,000 products); then, for almost a
second, orders come in only for the 50 products on sale. On the heap backend
every checkpoint is a full snapshot: all 5,000 counts, every 100 ms, although
only 50 of them changed. On embedded RocksDB with incremental checkpoints the
first checkpoint is full and every later one holds only the rows changed since
the last completed checkpoint: its Checkpointed Data Size is about 1 % of its
Full Checkpoint Data Size. The price is paid on every record: RocksDB
serialises the key and the value at each state access, so the counting
subtasks are about three times as busy for the same input. The results are
the same. Run `build(seed, backend="hashmap")` for the heap variant.

Flink concepts: state backends (HashMapStateBackend, EmbeddedRocksDBStateBackend),
full and incremental checkpoints, Checkpointed Data Size vs Full Checkpoint
Data Size, the cost of a state access, keyed state in key groups.

Seeds: 1 (the seed changes nothing here: the backend is what varies; both are checked).
"""

from collections import Counter

from sim import ClusterSpec, Simulation
from sim.api import EmbeddedRocksDBStateBackend, HashMapStateBackend, PacedSource, StreamExecutionEnvironment

SEEDS = (1,)
BACKENDS = ("hashmap", "rocksdb")
PRODUCTS = 5_000
ON_SALE = 50
ORDERS_PER_MS = 20
LAST_ORDER_MS = 950
"""The input ends before the checkpoint at 1 s, so every checkpoint holds the counting state."""
INTERVAL_MS = 100


def orders() -> PacedSource:
    """The catalogue at 0 ms (every product once), then `ORDERS_PER_MS` orders each ms for the products on sale."""
    products, at_ms = list(range(PRODUCTS)), [0] * PRODUCTS
    for t in range(1, LAST_ORDER_MS + 1):
        for j in range(ORDERS_PER_MS):
            products.append((t * ORDERS_PER_MS + j) * 7 % ON_SALE)
            at_ms.append(t)
    return PacedSource(products, at_ms)


def expected_counts() -> dict[int, int]:
    """Every product's final count: one for the catalogue, plus its orders."""
    return dict(Counter(orders().elements))


def build(seed: int, backend: str = "rocksdb") -> Simulation:
    """The counting job on `backend`: "rocksdb" (incremental checkpoints) or "hashmap"."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(INTERVAL_MS)
    env.set_state_backend(EmbeddedRocksDBStateBackend(enable_incremental_checkpointing=True)
                          if backend == "rocksdb" else HashMapStateBackend())
    (env.from_source(orders(), source_name="orders")
        .map(lambda product: (product, 1)).name("pair").set_parallelism(1)
        .key_by(lambda pair: pair[0])
        .sum(1).name("count").uid("count")
        .add_sink(lambda pair: None).name("sink"))
    cluster = ClusterSpec(task_managers=2, slots_per_task_manager=1, cores_per_task_manager=2)
    name = "RocksDB incremental" if backend == "rocksdb" else "heap"
    return Simulation(env, cluster=cluster, seed=seed, job_name=f"orders, {name}")


def sizes(result) -> list[tuple[int, int, int]]:
    """`(checkpoint id, checkpointed bytes, full bytes)` of every completed checkpoint."""
    return [(c.checkpoint_id, c.checkpointed_bytes, c.full_bytes) for c in result.checkpoints
            if c.status == "COMPLETED"]


def counting_busy_us(result) -> int:
    """CPU time of the counting subtasks (all of them), in µs of virtual time."""
    return sum(m.busy_us for task, m in result.metrics.items() if task.startswith("count"))


def final_counts(result) -> dict[int, int]:
    """The last count the job emitted for each product."""
    return {product: count for _, _, (product, count) in result.outputs["sink"]}


def report(result) -> str:
    rows = sizes(result)
    counted = sum(m.records_in for task, m in result.metrics.items() if task.startswith("count"))
    busy = counting_busy_us(result)
    return "\n".join([
        f"completed checkpoints: {len(rows)}; checkpointed / full size (KiB): "
        + ", ".join(f"{cid}: {c / 1024:.1f}/{f / 1024:.1f}" for cid, c, f in rows),
        f"counting subtasks busy: {busy / 1000:.1f} ms for {counted} records ({busy / counted:.2f} µs a record)",
        f"products counted: {len(final_counts(result))}, "
        f"every count as expected: {final_counts(result) == expected_counts()}",
    ])
