"""Always-properties of a run, judged from its outputs and its trace alone.

Layer: `sim.testing`, the top of the library beside `sim.scenario`. Pure
functions: they read sequences of output values and `Trace` events, never a
live job, a task or SimPy (an import-linter contract keeps it so), and they
return a `CheckResult` whose violations say what was expected and what was
found.

Output values are compared by their `stable_repr`, the representation the
trace uses: values need not be hashable, `1` and `1.0` differ, and two dicts
with the same items in another insertion order differ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sim.kernel.stable import stable_repr
from sim.testing.results import DEFAULT_LIMIT, Check, CheckReport, CheckResult, Violation, ViolationKind
from sim.trace.events import (BufferConsumed, ChannelBlocked, ChannelResumed, CheckpointCompleted,
                              CheckpointTriggered, TaskCanceled, TaskDeployed, TraceLevel)
from sim.trace.recorder import Trace

if TYPE_CHECKING:
    from sim.scenario.result import RunResult

_REPR_CHARS = 120


def _shown(value_repr: str) -> str:
    """A value's representation, cut to a readable length for messages."""
    return value_repr if len(value_repr) <= _REPR_CHARS else value_repr[:_REPR_CHARS - 3] + "..."


_PLAIN = frozenset({int, str, float, bool, bytes, type(None)})


def _repr(value: Any) -> str:
    """`stable_repr(value)`, with a fast path for what most outputs are: scalars and flat tuples of them.

    Plain `repr` equals `stable_repr` for anything without a set inside, so
    the fast path changes no result; it only skips the recursion.
    """
    kind = type(value)
    if kind in _PLAIN or (kind is tuple and _PLAIN.issuperset(map(type, value))):
        return repr(value)
    return stable_repr(value)


def _reprs(values: Sequence[Any]) -> list[str]:
    return [_repr(v) for v in values]


def _copies(n: int) -> str:
    return f"{n} cop{'y' if n == 1 else 'ies'}"


# --- outputs -------------------------------------------------------------------


def _multiset_violations(out: Counter[str], ref: Counter[str], kinds: set[ViolationKind]) -> list[Violation]:
    """Missing, duplicate and unexpected values of `out` against `ref`, by kind, each sorted by representation."""
    found: dict[ViolationKind, list[Violation]] = {k: [] for k in ViolationKind}
    for value in sorted(v for v in ref.keys() | out.keys() if ref[v] != out[v]):
        expected, got = ref[value], out[value]
        if got < expected:
            kind, what = ViolationKind.MISSING_VALUE, "is missing"
        elif got > expected:
            kind = ViolationKind.DUPLICATE_VALUE if expected else ViolationKind.UNEXPECTED_VALUE
            what = "is duplicated" if expected else "is not in the reference"
        else:
            continue
        found[kind].append(Violation(kind, f"value {_shown(value)} {what}: expected {_copies(expected)} "
                                           f"(as in the reference), found {_copies(got)}", entities=(value,)))
    return [v for kind in ViolationKind if kind in kinds for v in found[kind]]


def _per_key(values: Sequence[Any], reprs: list[str], key: Callable[[Any], Any]) -> dict[str, list[str]]:
    """Key representation -> the representations of its values (`reprs`), in sequence order."""
    groups: dict[str, list[str]] = {}
    for value, value_repr in zip(values, reprs):
        groups.setdefault(_repr(key(value)), []).append(value_repr)
    return groups


def _key_order_violations(out: dict[str, list[str]], ref: dict[str, list[str]]) -> list[Violation]:
    """Keys whose values are the reference's but in another order: the first position where they differ.

    A key whose values differ is left out: its missing or extra values are reported already.
    """
    violations = []
    for k in sorted(out.keys() & ref.keys()):
        got, expected = out[k], ref[k]
        if got == expected or Counter(got) != Counter(expected):
            continue
        i = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
        violations.append(Violation(
            ViolationKind.KEY_ORDER_CHANGED,
            f"key {_shown(k)}: value {i + 1} of {len(expected)} is out of order: expected {_shown(expected[i])} "
            f"(as in the reference), found {_shown(got[i])}", entities=(k, expected[i], got[i])))
    return violations


def check_exactly_once(output: Sequence[Any], reference: Sequence[Any], key: Callable[[Any], Any] | None = None,
                       *, limit: int = DEFAULT_LIMIT) -> CheckResult:
    """The output holds exactly the reference's values, each as often; with `key`, in the reference's order per key.

    `reference` is what the same job writes without faults. This is only
    meaningful for a job whose output values do not depend on timing
    (no processing-time windows or timers, no values that record arrival
    order across keys).

    Ask for per-key order (`key`) only where Flink guarantees it: order holds
    per (sending subtask, receiving subtask) pair, not across senders. So a
    key's sequence at the sink is fixed when every record of the key reaches
    its keyed operator through one channel (the key comes from one source
    partition), or when the keyed operator's output does not depend on the
    order of its input (the running counts of a keyed `sum` come out
    1, 2, 3, ... whatever the interleaving), *and* the path from the keyed
    operator to the sink is forward (chained or one-to-one), with no
    rebalance, shuffle or second `key_by` in between. The output compared must
    be what one sink subtask wrote per key (e.g. `result.values()`, which
    keeps arrival order, or a transactional sink's committed values).

    Args:
        output: the values the run wrote (for a run with faults: its committed output).
        reference: the values of the same job without faults.
        key: the key of a value (e.g. `lambda v: v[0]`), to also compare the order of each key's values.
        limit: how many violations of each kind to list.

    Returns:
        A `CheckResult` of `Check.EXACTLY_ONCE`, listing missing, duplicate and
        unexpected values (with their counts, by representation), then keys
        whose order changed.
    """
    out, ref = _reprs(output), _reprs(reference)
    violations = _multiset_violations(Counter(out), Counter(ref), set(ViolationKind))
    summary = f"{len(output)} values in the output, {len(reference)} in the reference"
    if key is not None:
        violations += _key_order_violations(_per_key(output, out, key), _per_key(reference, ref, key))
        summary += ", order compared per key"
    return CheckResult.of(Check.EXACTLY_ONCE, violations, summary, limit)


def check_no_loss(output: Sequence[Any], reference: Sequence[Any], *, limit: int = DEFAULT_LIMIT) -> CheckResult:
    """Every value of the reference is in the output at least as many times (at-least-once).

    Extra copies and values the reference never holds are allowed here; count
    them with `count_duplicates`, or forbid them with `check_exactly_once`.

    Args:
        output: the values the run wrote.
        reference: the values of the same job without faults.
        limit: how many missing values to list.

    Returns:
        A `CheckResult` of `Check.NO_LOSS` whose violations are `MISSING_VALUE`s.
    """
    out, ref = Counter(_reprs(output)), Counter(_reprs(reference))
    violations = _multiset_violations(out, ref, {ViolationKind.MISSING_VALUE})
    summary = (f"{len(output)} values in the output, {len(reference)} in the reference, "
               f"{_count_duplicates(out, ref)} extra copies")
    return CheckResult.of(Check.NO_LOSS, violations, summary, limit)


def _count_duplicates(out: Counter[str], ref: Counter[str]) -> int:
    return sum(n - ref[v] for v, n in out.items() if n > ref[v] > 0)


def count_duplicates(output: Sequence[Any], reference: Sequence[Any]) -> int:
    """How many extra copies of reference values the output holds (what a replay wrote twice).

    A value the reference holds n times and the output n + k times counts k.
    Values the reference never holds are not copies of anything and do not
    count (`check_exactly_once` reports them as unexpected).
    """
    return _count_duplicates(Counter(_reprs(output)), Counter(_reprs(reference)))


# --- the trace -------------------------------------------------------------------


def _below(trace: Trace, needed: TraceLevel, check: Check) -> CheckResult | None:
    """An unchecked result when `trace` was recorded below `needed`, else None."""
    if trace.level >= needed:
        return None
    return CheckResult.unchecked(check, f"the trace was recorded at {trace.level.name}; this check needs "
                                        f"{needed.name} or above")


def check_checkpoint_ids_monotonic(trace: Trace, *, limit: int = DEFAULT_LIMIT) -> CheckResult:
    """Checkpoint ids increase over the whole run, across restarts: triggered ones strictly, completed ones too.

    Flink's checkpoint id counter is never reset by a failover: a restored job
    triggers ids above every id it triggered before (savepoints share the
    counter). Completions increase too, because completing checkpoint n
    subsumes every pending checkpoint below n; savepoints are exempt from
    subsumption, so a savepoint's completion is not ordered against others.
    A completion with an id that was never triggered is also a violation.

    Args:
        trace: the run's trace, recorded at `TraceLevel.CHECKPOINTS` or above.
        limit: how many violations of each kind to list.

    Returns:
        A `CheckResult` of `Check.CHECKPOINT_IDS_MONOTONIC` (unchecked below CHECKPOINTS).
    """
    unchecked = _below(trace, TraceLevel.CHECKPOINTS, Check.CHECKPOINT_IDS_MONOTONIC)
    if unchecked is not None:
        return unchecked
    triggered: dict[int, CheckpointTriggered] = {}
    last_triggered: CheckpointTriggered | None = None
    last_completed: CheckpointCompleted | None = None
    violations = []
    events = trace.of_type(CheckpointTriggered, CheckpointCompleted)
    for event in events:
        cid = event.checkpoint_id
        if isinstance(event, CheckpointTriggered):
            if last_triggered is not None and cid <= last_triggered.checkpoint_id:
                violations.append(_not_increasing(ViolationKind.TRIGGERED_ID_NOT_INCREASING, "triggered",
                                                  event, last_triggered))
            triggered.setdefault(cid, event)
            last_triggered = event
        elif cid not in triggered:
            violations.append(Violation(
                ViolationKind.COMPLETED_NOT_TRIGGERED,
                f"checkpoint {cid} completed at t={event.t_us} us: expected a CheckpointTriggered for it "
                f"before, found none", (event.t_us,), (f"checkpoint {cid}",)))
        elif not triggered[cid].savepoint:
            if last_completed is not None and cid <= last_completed.checkpoint_id:
                violations.append(_not_increasing(ViolationKind.COMPLETED_ID_NOT_INCREASING, "completed",
                                                  event, last_completed))
            last_completed = event
    completed = sum(isinstance(e, CheckpointCompleted) for e in events)
    summary = f"{len(events) - completed} checkpoints triggered, {completed} completed"
    return CheckResult.of(Check.CHECKPOINT_IDS_MONOTONIC, violations, summary, limit)


def _not_increasing(kind: ViolationKind, verb: str, event: CheckpointTriggered | CheckpointCompleted,
                    before: CheckpointTriggered | CheckpointCompleted) -> Violation:
    cid, prev = event.checkpoint_id, before.checkpoint_id
    return Violation(kind, f"checkpoint {cid} {verb} at t={event.t_us} us after checkpoint {prev} "
                           f"({verb} at t={before.t_us} us): expected an id above {prev}, found {cid}",
                     (before.t_us, event.t_us), (f"checkpoint {prev}", f"checkpoint {cid}"))


def check_no_record_on_blocked_channel(trace: Trace, *, limit: int = DEFAULT_LIMIT) -> CheckResult:
    """No task consumes a buffer from a channel it blocked for alignment, until it resumes it.

    A blocked span of (task, channel) runs from `ChannelBlocked` to the next
    `ChannelResumed` of that (task, channel). It also ends when the task is
    canceled (`TaskCanceled`) or deployed again (`TaskDeployed`, a new
    execution attempt that starts with every channel open). Order is the
    trace's order, not the time stamps: a `BufferConsumed` carries the time its
    step ended.

    Args:
        trace: the run's trace, recorded at `TraceLevel.BUFFERS` or above.
        limit: how many violations to list.

    Returns:
        A `CheckResult` of `Check.NO_RECORD_ON_BLOCKED_CHANNEL` (unchecked below BUFFERS).
    """
    unchecked = _below(trace, TraceLevel.BUFFERS, Check.NO_RECORD_ON_BLOCKED_CHANNEL)
    if unchecked is not None:
        return unchecked
    blocked: dict[tuple[str, str], ChannelBlocked] = {}
    violations, spans = [], 0
    for event in trace.of_type(ChannelBlocked, ChannelResumed, BufferConsumed, TaskCanceled, TaskDeployed):
        kind = type(event)
        if kind is BufferConsumed:
            block = blocked.get((event.task, event.channel))
            if block is not None:
                violations.append(_consumed_while_blocked(event, block))
        elif kind is ChannelBlocked:
            spans += 1
            blocked[(event.task, event.channel)] = event
        elif kind is ChannelResumed:
            blocked.pop((event.task, event.channel), None)
        else:  # the task is gone or starts afresh: none of its channels stays blocked
            blocked = {k: b for k, b in blocked.items() if k[0] != event.task}
    summary = f"{spans} blocked spans, {len(trace.of_type(BufferConsumed))} buffers consumed"
    return CheckResult.of(Check.NO_RECORD_ON_BLOCKED_CHANNEL, violations, summary, limit)


def _consumed_while_blocked(event: BufferConsumed, block: ChannelBlocked) -> Violation:
    return Violation(
        ViolationKind.RECORD_ON_BLOCKED_CHANNEL,
        f"{event.task} consumed buffer {event.seq} ({event.records} records) of channel {event.channel} "
        f"at t={event.t_us} us while the channel was blocked for checkpoint {block.checkpoint_id} "
        f"(since t={block.t_us} us): expected nothing from it until it was resumed, found a buffer",
        (block.t_us, event.t_us), (event.task, event.channel, f"checkpoint {block.checkpoint_id}"))


# --- a whole run -------------------------------------------------------------------


def check_run(result: RunResult, reference: Sequence[Any] | None = None, key: Callable[[Any], Any] | None = None,
              committed: Sequence[Any] | None = None, *, limit: int = DEFAULT_LIMIT) -> CheckReport:
    """Every always-property of one run: checkpoint ids increase, no record on a blocked channel, and,
    with a reference, exactly-once output.

    Args:
        result: the run.
        reference: the values the same job writes without faults; without it the output is not checked.
        key: with `reference`, also compare the order of each key's values (see `check_exactly_once`
            for when Flink guarantees it).
        committed: the output to compare with `reference` (a transactional sink's committed values);
            default: `result.values()`, everything the job's only sink wrote.
        limit: how many violations of each kind to list per check.

    Returns:
        A `CheckReport`: checkpoint ids, blocked channels, then exactly-once if a reference was given.

    Raises:
        ValueError: `key` or `committed` without a `reference`, or no `committed` for a job with
            several sinks.
    """
    if reference is None and (key is not None or committed is not None):
        raise ValueError("check_run: key and committed are compared with a reference; expected a reference, "
                         "found none")
    results = [check_checkpoint_ids_monotonic(result.trace, limit=limit),
               check_no_record_on_blocked_channel(result.trace, limit=limit)]
    if reference is not None:
        output = committed if committed is not None else result.values()
        results.append(check_exactly_once(output, reference, key, limit=limit))
    return CheckReport(tuple(results))
