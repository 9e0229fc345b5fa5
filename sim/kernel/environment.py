"""The one SimPy environment of a run, with integer-microsecond time and an event count.

Layer: `sim.kernel`. Determinism of the event order lives here: SimPy's queue
is ordered by (time, priority, insertion id), so events at the same virtual
instant run in the order they were scheduled, and the simulated world always
schedules siblings in a fixed order.
"""

from __future__ import annotations

from typing import Callable

import simpy


class SimEnvironment(simpy.Environment):
    """A SimPy environment whose clock starts at 0 µs and that counts processed events."""

    def __init__(self) -> None:
        super().__init__(initial_time=0)
        self.events_processed = 0

    def step(self) -> None:
        self.events_processed += 1
        super().step()

    def timeout(self, delay: int, value: object = None) -> simpy.Timeout:
        """A timeout of `delay` integer microseconds (a float or negative delay is a bug)."""
        if type(delay) is not int or delay < 0:
            raise ValueError(f"virtual time is integer microseconds: timeout of {delay!r} is not allowed")
        return simpy.Timeout(self, delay, value)

    def schedule_call(self, delay_us: int, action: Callable[[], object]) -> None:
        """Run `action` after `delay_us`, always through the event queue (even for 0)."""
        self.timeout(delay_us).callbacks.append(lambda _event: action())

    def call_after(self, delay_us: int, action: Callable[[], object]) -> None:
        """Run `action` after `delay_us`; a zero delay runs it at once, with no event."""
        if delay_us:
            self.schedule_call(delay_us, action)
        else:
            action()
