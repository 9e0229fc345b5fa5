"""KeyedCoProcessFunction: two keyed inputs share keyed state and timers per key.

The job matches orders (input 1) with payments (input 2) by order id. An
order waits for its payment in keyed state, with an event-time timeout 100
ms after the order's timestamp; a payment may also arrive first and wait
for its order.
"""

from __future__ import annotations

from sim.api import (
    KeyedCoProcessFunction, PacedSource, ProcessFunction, TimeDomain, ValueStateDescriptor,
)
from sim.scenario.inspect import keyed_state

from tests.unit.twoinput.jobs import environment, paced, run


class MatchPayments(KeyedCoProcessFunction):
    TIMEOUT_MS = 100

    def open(self, runtime_context):
        self.order = runtime_context.get_state(ValueStateDescriptor("order"))
        self.payment = runtime_context.get_state(ValueStateDescriptor("payment"))

    def process_element1(self, order, ctx):
        payment = self.payment.value()
        if payment is not None:
            self.payment.clear()
            yield "paid", ctx.get_current_key(), payment[2]
            return
        self.order.update(order)
        ctx.timer_service().register_event_time_timer(ctx.timestamp() + self.TIMEOUT_MS)

    def process_element2(self, payment, ctx):
        order = self.order.value()
        if order is None:
            self.payment.update(payment)
            return
        self.order.clear()
        ctx.timer_service().delete_event_time_timer(order[1] + self.TIMEOUT_MS)
        yield "paid", ctx.get_current_key(), payment[2]

    def on_timer(self, timestamp, ctx):
        if self.order.value() is not None:
            self.order.clear()
            yield "unpaid", ctx.get_current_key(), ctx.time_domain().name


class WithTimestamp(ProcessFunction):
    def process_element(self, value, ctx):
        yield value, ctx.timestamp()


def _match_job(parallelism=2):
    env = environment(parallelism)
    orders = paced(env, "orders", [("o1", 10), ("o3", 30), ("o2", 200), ("o9", 900)], [50, 70, 250, 1050])
    payments = paced(env, "payments", [("o1", 40, "card"), ("o2", 150, "cash"), ("ox", 700, "card")],
                     [120, 150, 750])
    (orders.key_by(lambda o: o[0]).connect(payments.key_by(lambda p: p[0]))
     .process(MatchPayments()).name("match")
     .process(WithTimestamp()).name("stamp")
     .add_sink(lambda v: None).name("out"))
    return env


def test_orders_meet_their_payments_and_unpaid_orders_time_out():
    """Hand-derived from the watermarks of both inputs (emitted every 200 ms, seen 100 ms later).

    o1: order (ts 10) waits; its payment (ts 40) arrives at 120 ms: paid, with
    the payment's timestamp; the timer at 110 is deleted.
    o2: the payment (ts 150) arrives first and waits; the order (ts 200) at
    250 ms finds it: paid, with the order's timestamp.
    o3: never paid; its timer at 130 fires when the combined watermark
    reaches 149 = min(orders 199, payments 149) at 500 ms.
    o9: never paid; its timer at 1000 fires at the end of input (MAX).
    ox: a payment without an order waits in state; nothing is emitted.
    """
    result = run(_match_job())
    assert result.status == "FINISHED", result.failure
    by_value = {r.value[0]: (r.t_us // 1000, r.value[1]) for r in result.outputs["out"]}
    assert by_value == {
        ("paid", "o1", "card"): (200, 40),
        ("paid", "o2", "cash"): (300, 200),
        ("unpaid", "o3", "EVENT_TIME"): (500, 130),
        ("unpaid", "o9", "EVENT_TIME"): (1050, 1000),
    }


def test_the_co_process_heads_its_own_task_and_chains_what_follows():
    """Flink never chains a two-input operator to its inputs; its successors chain to it."""
    result = run(_match_job())
    assert [v.id for v in result.job_graph.vertices] == ["source", "source_2", "match->stamp->out"]
    edges = result.stream_graph.in_edges("match")
    assert [(e.source, e.type_number, e.partitioner.kind.value) for e in edges] == [
        ("source", 1, "hash"), ("source_2", 2, "hash")]
    assert all(e.type_number == 0 for e in result.stream_graph.in_edges("stamp"))


def test_keyed_state_and_timers_are_in_the_checkpoint():
    """A checkpoint taken while o3 waits (300-450 ms) holds its order and its timeout timer, and nothing else."""
    env = _match_job(parallelism=1)
    env.enable_checkpointing(100)
    result = run(env)
    assert result.status == "FINISHED", result.failure
    waiting = [c for c in result.completed_checkpoints if 300_000 <= c.trigger_us < 450_000]
    assert waiting, [c.trigger_us for c in result.completed_checkpoints]
    state = keyed_state(result.completed_checkpoints, waiting[0].checkpoint_id, "match")
    assert state == {"o3": {"order": ("o3", 30)}}
    operator = waiting[0].payloads["match->stamp->out[0]"]["operators"]["match"]["operator"]
    assert [(ts, key) for _, ts, key, _ in operator["timers"]["event_time"]] == [(130, "o3")]


class TimeoutInProcessingTime(KeyedCoProcessFunction):
    def process_element1(self, value, ctx):
        ctx.timer_service().register_processing_time_timer(ctx.timer_service().current_processing_time() + 100)
        yield "one", value

    def process_element2(self, value, ctx):
        yield "two", value

    def on_timer(self, timestamp, ctx):
        yield "timer", ctx.get_current_key(), timestamp, ctx.time_domain() is TimeDomain.PROCESSING_TIME


def test_processing_time_timers_fire_at_their_virtual_millisecond():
    env = environment()
    one = env.from_source(PacedSource(["a"], at_ms=[50]), source_name="one")
    two = env.from_source(PacedSource(["b", "a"], at_ms=[60, 400]), source_name="two")
    one.connect(two).key_by(lambda v: v, lambda v: v).process(TimeoutInProcessingTime()) \
        .add_sink(lambda v: None).name("out")
    result = run(env)
    assert result.status == "FINISHED", result.failure
    timeline = [(r.t_us // 1000, r.value) for r in result.outputs["out"]]
    assert ("one", "a") in [v for _, v in timeline] and ("two", "b") in [v for _, v in timeline]
    assert (150, ("timer", "a", 150, True)) in timeline


def test_a_failing_process_element2_names_the_operator_and_the_record():
    class Fails(KeyedCoProcessFunction):
        def process_element1(self, value, ctx):
            yield value

        def process_element2(self, value, ctx):
            raise ValueError("no payments today")

    env = environment()
    orders = paced(env, "orders", [("o1", 10)], [50])
    payments = paced(env, "payments", [("o1", 20, "card")], [60])
    orders.connect(payments).key_by(lambda o: o[0], lambda p: p[0]).process(Fails()).add_sink(lambda v: None)
    result = run(env)
    assert result.status == "FAILED"
    assert result.failure.operator == "co_process[0]"
    assert "no payments today" in result.failure.error and "'card'" in result.failure.record
