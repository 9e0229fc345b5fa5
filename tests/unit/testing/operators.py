"""User operators for the tests of generated cases: module-level, so a replay in another process imports them."""

from __future__ import annotations

from sim.api import KeyedProcessFunction, Types, ValueStateDescriptor


class ForgetfulCount(KeyedProcessFunction):
    """Counts per key in a plain attribute instead of keyed state: right without faults, wrong after a restore,
    which starts it from zero again (and shares one count between the keys of a subtask)."""

    def open(self, runtime_context):
        self.counts = {}

    def process_element(self, value, ctx):
        self.counts[value[0]] = self.counts.get(value[0], 0) + 1
        yield value[0], self.counts[value[0]]


class LastValue(KeyedProcessFunction):
    """Emits `(key, previous value, value)`: its outputs depend on the order of a key's records."""

    def open(self, runtime_context):
        self.last = runtime_context.get_state(ValueStateDescriptor("last", Types.LONG()))

    def process_element(self, value, ctx):
        yield value[0], self.last.value(), value[1]
        self.last.update(value[1])


class NotAFunction:
    """Not a KeyedProcessFunction: a process step must refuse it."""
