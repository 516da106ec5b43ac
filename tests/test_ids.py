"""Trace and span ids: UUID 7, time-ordered, unique across forked workers."""

from __future__ import annotations

import datetime as dt
import os
import random
import time
import uuid

import pytest

from flask_llm_logs.models.base import first_id_at
from flask_llm_logs.models.base import id_made_at
from flask_llm_logs.models.base import id_time
from flask_llm_logs.models.base import new_id

#: The random bits of an id (below the time, version and variant bits).
RANDOM_BITS = (1 << 62) - 1


def test_ids_are_uuid7_in_time_order() -> None:
    first = new_id()
    time.sleep(0.002)
    later = [new_id() for _ in range(1000)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in [first, *later])
    assert all(first < i for i in later)
    assert len(set(later)) == 1000
    millis = first.int >> 80
    assert abs(millis - time.time_ns() // 1_000_000) < 5_000


def test_the_ids_made_before_a_moment_sort_before_its_first_id() -> None:
    """What the purge's range on the scores' trace ids relies on (PostgreSQL sorts
    uuids by their bytes, as Python by ``UUID.int``)."""
    moment = dt.datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=dt.timezone.utc)
    first = first_id_at(moment)
    assert first.version == 7 and id_time(first) == moment
    millisecond = dt.timedelta(milliseconds=1)
    for _ in range(100):
        assert id_made_at(moment - millisecond).int < first.int <= id_made_at(moment).int


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_workers_do_not_repeat_each_others_ids() -> None:
    """A child forked from one parent draws other random bits than its parent."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        ids = b"".join(new_id().bytes for _ in range(100))
        os.write(write_end, ids)
        os._exit(0)
    os.close(write_end)
    parent_ids = {new_id().bytes for _ in range(100)}
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    child_ids = {data[i : i + 16] for i in range(0, len(data), 16)}
    assert len(child_ids) == 100
    # The same millisecond in both would share the time bits: the random ones differ.
    parent_random = {i[-10:] for i in parent_ids}
    assert not parent_random & {i[-10:] for i in child_ids}


def test_a_host_seeding_random_neither_repeats_ids_nor_sees_them() -> None:
    random.seed(7)
    first = new_id()
    expected = random.random()
    random.seed(7)
    second = new_id()
    assert first.int & RANDOM_BITS != second.int & RANDOM_BITS
    assert random.random() == expected  # the host's sequence is its own
