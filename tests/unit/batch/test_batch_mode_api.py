"""BATCH mode as the job sees it: the enum, boundedness, the resolved mode, and the stages."""

from __future__ import annotations

import pytest

from sim.api import (
    CollectionSource, NumberSequenceSource, PacedSource, ReaderPoll, RuntimeExecutionMode, Source, SourceReader,
    StreamExecutionEnvironment,
)
from sim.graph import JobBuildError, build_job_graph, build_stream_graph, compute_stages


class EndlessSource(Source):
    """A source that does not declare itself bounded."""

    name = "Endless"

    def create_reader(self, index: int, parallelism: int) -> SourceReader:
        class Reader(SourceReader):
            def poll(self, max_records: int, now_us: int) -> ReaderPoll:
                return ReaderPoll([1], False)

        return Reader()


def _env(mode: RuntimeExecutionMode | None = None) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    if mode is not None:
        env.set_runtime_mode(mode)
    return env


def test_streaming_is_the_default_and_set_runtime_mode_chains() -> None:
    env = _env()
    assert env.get_runtime_mode() is RuntimeExecutionMode.STREAMING
    assert env.set_runtime_mode(RuntimeExecutionMode.BATCH) is env
    assert env.get_runtime_mode() is RuntimeExecutionMode.BATCH
    assert [m.name for m in RuntimeExecutionMode] == ["STREAMING", "BATCH", "AUTOMATIC"]


def test_set_runtime_mode_refuses_a_string() -> None:
    with pytest.raises(TypeError, match="RuntimeExecutionMode.*got 'BATCH'"):
        _env().set_runtime_mode("BATCH")


def test_built_in_sources_are_bounded_and_a_plain_source_is_not() -> None:
    assert CollectionSource([1]).bounded and NumberSequenceSource(0, 1).bounded
    assert PacedSource.every(1, [1]).bounded
    assert not Source.bounded and not EndlessSource.bounded


def test_batch_with_an_unbounded_source_names_the_source() -> None:
    env = _env(RuntimeExecutionMode.BATCH)
    env.from_collection([1, 2]).union(env.from_source(EndlessSource())).print()
    expected = r"BATCH needs bounded sources, but source source_2 'Endless' \(EndlessSource\) is unbounded"
    with pytest.raises(JobBuildError, match=expected):
        build_stream_graph(env)


@pytest.mark.parametrize(("endless", "expected"), [(False, RuntimeExecutionMode.BATCH),
                                                   (True, RuntimeExecutionMode.STREAMING)])
def test_automatic_is_batch_only_when_every_source_is_bounded(endless: bool, expected) -> None:
    env = _env(RuntimeExecutionMode.AUTOMATIC)
    stream = env.from_sequence(1, 10)
    if endless:
        stream = stream.union(env.from_source(EndlessSource()))
    stream.print()
    sg = build_stream_graph(env)
    assert sg.runtime_mode is expected
    assert sg.requested_mode is RuntimeExecutionMode.AUTOMATIC
    assert sg.batch == (expected is RuntimeExecutionMode.BATCH)


def test_stages_split_at_redistributing_exchanges_only() -> None:
    """source->map | rebalance | keyed sum, then unchained forward edges: they stay in the sum's stage."""
    env = _env(RuntimeExecutionMode.BATCH).set_parallelism(2)
    (env.from_sequence(1, 20).map(lambda i: i).rebalance().map(lambda i: (i % 3, i))
        .key_by(lambda t: t[0]).sum(1).map(lambda t: t).disable_chaining().print())
    jg = build_job_graph(build_stream_graph(env))
    assert [(s.index, s.vertices, s.upstream) for s in jg.stages] == [
        (0, ("source->map",), ()),
        (1, ("map_2",), (0,)),
        (2, ("sum", "map_3", "print"), (1,)),
    ]
    assert [(e.source, e.target, e.blocking) for e in jg.edges] == [
        ("source->map", "map_2", True), ("map_2", "sum", True), ("sum", "map_3", False), ("map_3", "print", False)]


def test_streaming_has_no_stages_and_no_blocking_exchange() -> None:
    env = _env().set_parallelism(2)
    env.from_sequence(1, 20).key_by(lambda i: i % 3).sum().print()
    jg = build_job_graph(build_stream_graph(env))
    assert jg.stages == [] and not any(e.blocking for e in jg.edges)


def test_stages_that_would_wait_on_each_other_merge() -> None:
    """x feeds y by forward and z by a shuffle; z feeds w, which feeds y by forward: one stage."""
    stages = compute_stages(["x", "y", "z", "w"], [("x", "y", True), ("x", "z", False), ("z", "w", False),
                                                   ("w", "y", True)])
    assert [(s.vertices, s.upstream) for s in stages] == [(("x", "y", "z", "w"), ())]


def test_independent_stages_are_numbered_in_definition_order() -> None:
    stages = compute_stages(["s2", "s1", "join"], [("s1", "join", False), ("s2", "join", False)])
    assert [(s.index, s.vertices, s.upstream) for s in stages] == [
        (0, ("s2",), ()), (1, ("s1",), ()), (2, ("join",), (0, 1))]
