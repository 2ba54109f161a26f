"""Reading a partition stream's name back: the event id and the partition, or None."""

from __future__ import annotations

import pytest

from typed_events.backends.redis._keys import dead_letter_key, stream_key
from typed_events.backends.redis._partitions import (
    PartitionKeys,
    partition_of_stream,
    partition_stream_key,
)


@pytest.mark.parametrize("cluster", [False, True])
@pytest.mark.parametrize("partition", [0, 3, 15, 1024])
def test_every_partition_stream_name_reads_back_as_its_event_and_partition(
    cluster: bool, partition: int
) -> None:
    for event_id in ("order_placed", "billing.invoice-v2", "x:3", "événement"):
        name = partition_stream_key("typed-events:", event_id, partition, cluster=cluster)

        assert partition_of_stream("typed-events:", name) == (event_id, partition)


@pytest.mark.parametrize("cluster", [False, True])
def test_names_that_are_not_partition_streams_read_as_none(cluster: bool) -> None:
    keys = PartitionKeys("typed-events:", "order_placed", "billing:on_order", 4, cluster=cluster)
    others = [
        keys.lease(2),
        keys.fence(2),
        keys.members,
        stream_key("typed-events:", "order_placed"),
        "{typed-events:order_placed}",
        dead_letter_key("typed-events:"),
        "other-prefix:order_placed:3",
        "typed-events::3",  # no event id
        "typed-events:order_placed:",
        "typed-events:order_placed:03",  # not how a partition is written
        "typed-events:order_placed:-1",
        "typed-events:order_placed:٣",  # a digit, but not an ASCII one
        "typed-events:order_placed:3\x1b[2J",
        "",
    ]
    for name in others:
        assert partition_of_stream("typed-events:", name) is None, name


def test_the_event_id_settles_a_stream_name_that_fits_both_layouts() -> None:
    # Event "x:3" unpartitioned and partition 3 of event "x" share one name.
    name = stream_key("typed-events:", "x:3")
    assert name == partition_stream_key("typed-events:", "x", 3, cluster=False)

    assert partition_of_stream("typed-events:", name) == ("x", 3)
    assert partition_of_stream("typed-events:", name, event_id="x:3") is None
    assert partition_of_stream("typed-events:", name, event_id="x") == ("x", 3)
    # A message of another type on that stream (a bad envelope) keeps the stream's reading.
    assert partition_of_stream("typed-events:", name, event_id="y") == ("x", 3)


def test_a_single_node_prefix_with_a_hash_tag_is_not_mistaken_for_the_cluster_form() -> None:
    name = partition_stream_key("{billing}:", "order_placed", 2, cluster=False)

    assert name == "{billing}:order_placed:2"
    assert partition_of_stream("{billing}:", name) == ("order_placed", 2)
    assert partition_of_stream("{billing}:", "{billing}:order_placed") is None
