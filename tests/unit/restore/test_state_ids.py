"""State ids: a snapshot files each operator's state under its uid (or generated id), and uids must be unique."""

from __future__ import annotations

import pytest

from sim import JobBuildError
from sim.api import NumberSequenceSource, StreamExecutionEnvironment
from sim.graph import build_stream_graph


def _env() -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    return env


def test_the_state_id_is_the_uid_when_set_and_the_generated_id_otherwise() -> None:
    env = _env()
    env.from_source(NumberSequenceSource(0, 9)).uid("numbers").map(lambda i: (i % 3, 1)) \
        .key_by(lambda t: t[0]).sum(1).add_sink(lambda v: None)
    nodes = {n.id: n.state_id for n in build_stream_graph(env).nodes}
    assert nodes == {"source": "numbers", "map": "map", "sum": "sum", "sink": "sink"}


def test_two_operators_with_one_uid_fail_the_build_naming_both() -> None:
    env = _env()
    env.from_source(NumberSequenceSource(0, 9)).map(lambda i: i).uid("step").name("first") \
        .map(lambda i: i).uid("step").name("second").add_sink(lambda v: None)
    with pytest.raises(JobBuildError, match=r"operators first \('first'\) and second \('second'\) both have uid "
                                            r"'step': expected every operator's uid to be unique, because a "
                                            r"savepoint matches state to operators by uid"):
        build_stream_graph(env)


def test_a_uid_equal_to_another_operators_generated_id_fails_the_build() -> None:
    env = _env()
    env.from_source(NumberSequenceSource(0, 9)).map(lambda i: (i, 1)).key_by(lambda t: t[0]).sum(1) \
        .map(lambda t: t).uid("sum").add_sink(lambda v: None)
    with pytest.raises(JobBuildError, match=r"uid 'sum' of operator map_2 \('Map'\) is the generated id of "
                                            r"operator sum"):
        build_stream_graph(env)
