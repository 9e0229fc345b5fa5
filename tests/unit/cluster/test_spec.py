"""`ClusterSpec` as JSON data: every field round-trips, fields left out keep their defaults, unknown ones fail."""

from __future__ import annotations

import json

import pytest

from sim import ClusterSpec, CostModel, LinkSpec, NetworkConfig, StorageSpec


def test_a_cluster_round_trips_through_json_with_every_part():
    cluster = ClusterSpec(task_managers=3, slots_per_task_manager=2, cores_per_task_manager=1,
                          link=LinkSpec(latency_us=50, jitter_us=7),
                          links={("tm-2", "tm-0"): LinkSpec(latency_us=5_000), ("tm-0", "tm-1"): LinkSpec(0)},
                          network=NetworkConfig(segment_size_bytes=512), costs=CostModel(operator_cpu_ns={"map": 9}),
                          rpc_latency_us=10, checkpoint_storage=StorageSpec(latency_us=1),
                          heartbeat_interval_ms=20, heartbeat_timeout_ms=60)
    data = json.loads(json.dumps(cluster.to_dict()))
    assert ClusterSpec.from_dict(data) == cluster
    wire = {"bandwidth_bytes_per_s": 1_250_000_000, "jitter_us": 0}
    assert data["links"] == [["tm-0", "tm-1", {"latency_us": 0, **wire}], ["tm-2", "tm-0", {"latency_us": 5_000, **wire}]]


def test_fields_left_out_keep_their_defaults():
    assert ClusterSpec.from_dict({}) == ClusterSpec()
    assert ClusterSpec.from_dict({"task_managers": 2, "costs": {"record_cpu_ns": 5}}) == \
        ClusterSpec(task_managers=2, costs=CostModel(record_cpu_ns=5))


def test_an_unknown_field_or_a_bad_value_is_refused():
    with pytest.raises(ValueError, match=r"ClusterSpec has no field\(s\) \['taskmanagers'\]"):
        ClusterSpec.from_dict({"taskmanagers": 2})
    with pytest.raises(ValueError, match=r"ClusterSpec.task_managers must be an int >= 1, got 0"):
        ClusterSpec.from_dict({"task_managers": 0})
