"""The steps a generated job is made of: a small catalogue of operators, each with a model and its order rules.

Layer: `sim.testing`; builds operators with `sim.api`. A `Step` is plain data
(one operator of a `JobSpec`); its `StepKind` says how to add it to a
stream, what it emits for records in one order (`model`), and what it does
to the order of a key's records, which decides where it may stand (see
`sim.testing.jobspec`). A user's own `KeyedProcessFunction` joins a job as
`Step.process("module:Class")`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.api import DataStream, KeyedProcessFunction, MapStateDescriptor, Types, ValueStateDescriptor




class CountPerKey(KeyedProcessFunction):
    """Emits `(key, n)` for the n-th record of a key (a `ValueState`): the same sequence in any input order."""

    def open(self, runtime_context: Any) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context):
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        yield value[0], n


class DistinctPerKey(KeyedProcessFunction):
    """Emits a record the first time its value is seen for its key (a `MapState`): the same set in any order."""

    def open(self, runtime_context: Any) -> None:
        self.seen = runtime_context.get_map_state(MapStateDescriptor("seen", Types.LONG(), Types.BOOLEAN()))

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context):
        if not self.seen.contains(value[1]):
            self.seen.put(value[1], True)
            yield value


def _keyed_model(update: Callable[[Any, tuple], tuple[Any, list]]) -> Callable[[list, int], list]:
    """A model of a keyed step from `update(state of the key or None, record) -> (new state, outputs)`."""
    def model(records: list, arg: int) -> list:
        states: dict[int, Any] = {}
        out = []
        for record in records:
            states[record[0]], emitted = update(states.get(record[0]), record)
            out += emitted
        return out
    return model


def _running_sum(total, r):
    total = r if total is None else (total[0], total[1] + r[1])
    return total, [total]


def _running_max(best, r):
    best = r if best is None or r[1] > best[1] else best
    return best, [best]


def _count(n, r):
    return (n or 0) + 1, [(r[0], (n or 0) + 1)]


def _distinct(seen, r):
    seen = seen or frozenset()
    return seen | {r[1]}, ([] if r[1] in seen else [r])


def _max_reduce(a: tuple, b: tuple) -> tuple:
    return b if b[1] > a[1] else a


@dataclass(frozen=True)
class StepKind:
    """One operator of the catalogue: how to build it, how to predict it, and what it does to order.

    Attributes:
        name: the step's name, also the operator's name (and id) in the job.
        describe: what it does, with `{arg}` for its parameter.
        args: the parameters a strategy may draw.
        build: `(stream, arg, name) -> stream`: the operator, added with `sim.api`.
        model: `(records, arg) -> records`: what it emits, for records in one order.
        keyed: it keys the stream by the pair's first field first.
        keeps_key: every record it emits has the key of the record it came from.
        needs_key_order: (keyed) its outputs depend on the order of a key's records.
        fixes_order: (keyed) its outputs come out in the same order whatever its input order.
    """

    name: str
    describe: str
    args: tuple[int, int]
    build: Callable[[DataStream, int, str], DataStream]
    model: Callable[[list, int], list]
    keyed: bool = False
    keeps_key: bool = True
    needs_key_order: bool = False
    fixes_order: bool = False


def key_of(record: tuple) -> int:
    return record[0]


STEP_KINDS: dict[str, StepKind] = {kind.name: kind for kind in (
    StepKind("add", "(k, v) -> (k, v + {arg})", (1, 9),
             lambda s, a, n: s.map(lambda r: (r[0], r[1] + a)).name(n),
             lambda rs, a: [(r[0], r[1] + a) for r in rs]),
    StepKind("rekey", "(k, v) -> (v % {arg}, v)", (1, 7),
             lambda s, a, n: s.map(lambda r: (r[1] % a, r[1])).name(n),
             lambda rs, a: [(r[1] % a, r[1]) for r in rs], keeps_key=False),
    StepKind("filter", "keep (k, v) where v % {arg} != 0", (2, 5),
             lambda s, a, n: s.filter(lambda r: r[1] % a != 0).name(n),
             lambda rs, a: [r for r in rs if r[1] % a != 0]),
    StepKind("explode", "(k, v) -> (k, 10v), ..., (k, 10v + {arg} - 1)", (1, 3),
             lambda s, a, n: s.flat_map(lambda r: [(r[0], r[1] * 10 + i) for i in range(a)]).name(n),
             lambda rs, a: [(r[0], r[1] * 10 + i) for r in rs for i in range(a)]),
    StepKind("rebalance", "send records round robin to the next operator", (0, 0),
             lambda s, a, n: s.rebalance(), lambda rs, a: rs),
    StepKind("sum", "key_by(k).sum(1): running sum per key", (0, 0),
             lambda s, a, n: s.key_by(key_of).sum(1).name(n), _keyed_model(_running_sum),
             keyed=True, needs_key_order=True),
    StepKind("max", "key_by(k).reduce(larger v): running max per key", (0, 0),
             lambda s, a, n: s.key_by(key_of).reduce(_max_reduce).name(n), _keyed_model(_running_max),
             keyed=True, needs_key_order=True),
    StepKind("count", "key_by(k).process: (k, n) for the n-th record of k (ValueState)", (0, 0),
             lambda s, a, n: s.key_by(key_of).process(CountPerKey()).name(n), _keyed_model(_count),
             keyed=True, fixes_order=True),
    StepKind("distinct", "key_by(k).process: (k, v) the first time v is seen for k (MapState)", (0, 0),
             lambda s, a, n: s.key_by(key_of).process(DistinctPerKey()).name(n), _keyed_model(_distinct),
             keyed=True),
)}
"""The built-in steps by name."""

PROCESS = "process"
"""The kind of a step that runs a user's `KeyedProcessFunction` (see `Step.process`)."""


@dataclass(frozen=True)
class Step:
    """One operator of a generated job.

    Attributes:
        kind: a name of `STEP_KINDS`, or `"process"` for a user's `KeyedProcessFunction`.
        arg: the parameter of the kind (see `StepKind.args`); 0 for kinds without one.
        parallelism: the operator's parallelism (None: the job's). A step whose parallelism
            differs from the step before it receives its records round robin, as in Flink.
        function: for `"process"`: the function's class as `"module:Class"`, importable
            wherever the case runs (a module-level class: a replay imports it by this name).
        needs_key_order: for `"process"`: the function's outputs depend on the order of a
            key's records (the safe default); False lets it follow any exchange.
    """

    kind: str
    arg: int = 0
    parallelism: int | None = None
    function: str | None = None
    needs_key_order: bool = True

    @staticmethod
    def process(function: str | type, needs_key_order: bool = True, parallelism: int | None = None) -> Step:
        """A step running a user's `KeyedProcessFunction` on the stream keyed by the pair's first field.

        The function gets `(key, value)` pairs of ints and must emit tuples whose first field is the key.

        Args:
            function: the class, or its import path `"module:Class"`; it must be defined at
                module level so that a replay in another process can import it.
            needs_key_order: whether its outputs depend on the order of a key's records.
            parallelism: its parallelism (None: the job's).
        """
        if isinstance(function, type):
            function = f"{function.__module__}:{function.__qualname__}"
        return Step(PROCESS, 0, parallelism, function, needs_key_order)

    def __post_init__(self) -> None:
        if self.kind != PROCESS and self.kind not in STEP_KINDS:
            raise ValueError(f"step kind {self.kind!r} is unknown; expected one of {sorted(STEP_KINDS)} or "
                             f"{PROCESS!r}")
        if self.kind == PROCESS:
            function_class(self.function)
        else:
            low, high = STEP_KINDS[self.kind].args
            if type(self.arg) is not int or not low <= self.arg <= high:
                raise ValueError(f"step {self.kind}: arg must be an int in {low}..{high}, got {self.arg!r}")
        if self.kind == "rebalance" and self.parallelism is not None:
            raise ValueError("step rebalance: it is an exchange, not an operator, and has no parallelism; set the "
                             "parallelism of the step after it")
        if self.parallelism is not None and (type(self.parallelism) is not int or self.parallelism < 1):
            raise ValueError(f"step {self.kind}: parallelism must be a positive int or None, got {self.parallelism!r}")

    @property
    def keyed(self) -> bool:
        return self.kind == PROCESS or STEP_KINDS[self.kind].keyed

    @property
    def needs_order(self) -> bool:
        return self.needs_key_order if self.kind == PROCESS else STEP_KINDS[self.kind].needs_key_order

    def describe(self) -> str:
        if self.kind == PROCESS:
            text = f"key_by(k).process({self.function})"
        else:
            text = STEP_KINDS[self.kind].describe.format(arg=self.arg)
        return text if self.parallelism is None else f"{text} at parallelism {self.parallelism}"


def function_class(path: Any) -> type:
    """The `KeyedProcessFunction` class named `"module:Class"`; ValueError says what is wrong."""
    module_name, _, qualname = path.partition(":") if isinstance(path, str) else ("", "", "")
    if not module_name or not qualname:
        raise ValueError(f"a process step names its KeyedProcessFunction as 'module:Class', got {path!r}")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"process step {path!r}: cannot import it ({exc}); the class must be defined at module "
                         f"level in a module the replay can import") from None
    if not (isinstance(found, type) and issubclass(found, KeyedProcessFunction)):
        raise ValueError(f"process step {path!r}: expected a KeyedProcessFunction subclass, found {found!r}")
    return found
