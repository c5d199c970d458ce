"""ApproximateSync and BoundedQueue on hand-made stamp sequences."""
import threading

import pytest

from perception.ros.sync import ApproximateSync, BoundedQueue


def test_pairs_the_closest_partner_within_tolerance():
    sync = ApproximateSync(tolerance=0.05, queue_size=4)
    assert sync.add("points", 1.00, "p1") is None
    assert sync.add("points", 1.10, "p2") is None
    pair = sync.add("image", 1.09, "i1")                  # closer to p2 (0.01) than to p1 (0.09)
    assert (pair.points, pair.image, pair.stamp) == ("p2", "i1", 1.10)
    assert sync.dropped["points"] == 1                     # p1 can only pair with the past now
    assert sync.add("image", 1.20, "i2") is None           # nothing left to pair with
    assert sync.add("points", 1.30, "p3") is None          # 0.1 s from i2: outside the tolerance
    assert sync.pending() == {"image": 1, "points": 1}


def test_full_queues_drop_the_oldest_and_stale_stamps_are_rejected():
    sync = ApproximateSync(tolerance=0.01, queue_size=2)
    for k, t in enumerate((1.0, 2.0, 3.0)):
        assert sync.add("image", t, f"i{k}") is None
    assert sync.dropped["image"] == 1 and sync.pending()["image"] == 2
    assert sync.add("points", 3.005, "p") is not None
    assert sync.add("image", 2.5, "late") is None and sync.stale["image"] == 1   # before the last pair
    assert sync.add("points", 4.0, "p4") is None
    assert sync.add("points", 3.9, "back") is None and sync.stale["points"] == 1  # out of order in its stream


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="tolerance"):
        ApproximateSync(tolerance=-1, queue_size=1)
    with pytest.raises(ValueError, match="stream"):
        ApproximateSync(tolerance=0.1, queue_size=1).add("radar", 1.0, None)
    with pytest.raises(ValueError, match="maxsize"):
        BoundedQueue(0)


def test_bounded_queue_drops_oldest_and_wakes_a_waiting_consumer():
    q = BoundedQueue(2)
    assert q.put(1) is None and q.put(2) is None
    assert q.put(3) == 1 and q.dropped == 1 and len(q) == 2
    assert q.get(timeout=0) == 2 and q.get(timeout=0) == 3
    assert q.get(timeout=0.01) is None
    got = []
    consumer = threading.Thread(target=lambda: got.append(q.get(timeout=5)))
    consumer.start()
    q.put("x")
    consumer.join(timeout=5)
    assert got == ["x"]
    q.close()
    assert q.get(timeout=5) is None                        # closed: returns at once
