"""Kafka's partitioner, bit for bit: murmur2 on key bytes for keyed records, round robin per producer otherwise."""

import pytest

from sim.api import Topic
from sim.api.log import murmur2, partition_for_key, to_positive

# Kafka's own test vectors for Utils.murmur2 (UtilsTest.testMurmur2 in
# clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
KAFKA_MURMUR2_VECTORS = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]


@pytest.mark.parametrize("data, expected", KAFKA_MURMUR2_VECTORS)
def test_murmur2_matches_kafkas_test_vectors(data, expected):
    assert murmur2(data) == expected


def test_murmur2_of_no_bytes_is_the_finalised_seed():
    """Hand-derived: h = seed ^ 0 = 0x9747b28c, no blocks, no tail, then h ^= h>>>13; h *= m; h ^= h>>>15."""
    m, h = 0x5BD1E995, 0x9747B28C
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    assert murmur2(b"") == h - (1 << 32 if h >= 1 << 31 else 0)


def test_to_positive_keeps_the_low_31_bits_not_the_absolute_value():
    assert to_positive(-973932308) == -973932308 & 0x7FFFFFFF == 1173551340
    assert to_positive(-1) == 0x7FFFFFFF
    assert to_positive(5) == 5


@pytest.mark.parametrize("data, expected", KAFKA_MURMUR2_VECTORS)
def test_a_str_key_is_partitioned_by_its_utf8_bytes(data, expected):
    for partitions in (1, 3, 4, 7):
        assert partition_for_key(data.decode(), partitions) == (expected & 0x7FFFFFFF) % partitions
        assert partition_for_key(data, partitions) == partition_for_key(data.decode(), partitions)


def test_a_non_ascii_key_hashes_its_utf8_bytes():
    assert partition_for_key("é", 5) == to_positive(murmur2(b"\xc3\xa9")) % 5


def test_keyed_records_land_on_the_key_partition_and_keep_per_partition_order():
    topic = Topic("t", 4)
    written = [topic.append("21", i) for i in range(3)]
    # "21": murmur2 = -973932308, toPositive = 1173551340, % 4 = 0.
    assert [(r.partition, r.offset) for r in written] == [(0, 0), (0, 1), (0, 2)]


def test_records_without_a_key_go_round_robin_per_producer_from_partition_zero():
    topic = Topic("t", 3)
    assert [topic.append(None, i).partition for i in range(5)] == [0, 1, 2, 0, 1]
    other = topic.producer()
    assert [other.send(0, None, i).partition for i in range(4)] == [0, 1, 2, 0]
    assert [topic.append(None, i).partition for i in range(2)] == [2, 0]  # the topic's own producer goes on


def test_an_explicit_partition_wins_over_the_key():
    topic = Topic("t", 4)
    assert topic.append("21", "x", partition=3).partition == 3


def test_the_schedule_takes_its_round_robin_turns_in_time_order_not_call_order():
    topic = Topic("t", 2)
    topic.produce_at(200, None, "late")
    topic.produce_at(100, None, "early")
    topic.advance_to(1_000)
    assert [(r.value, r.partition) for r in topic.records()] == [("early", 0), ("late", 1)]


def test_bad_keys_and_partitions_are_named():
    topic = Topic("orders", 2)
    with pytest.raises(TypeError, match="key must be str, bytes or None, got int"):
        topic.append(7, "x")
    with pytest.raises(ValueError, match=r"topic 'orders' has partitions 0..1, got partition 2"):
        topic.append(None, "x", partition=2)
