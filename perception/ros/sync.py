"""Approximate time synchronisation of two streams, with bounded drop-oldest queues.

:class:`ApproximateSync` pairs an image with a point cloud whose stamps differ by at most ``tolerance``
seconds (the role of ``message_filters.ApproximateTimeSynchronizer`` for two topics).  Each stream waits in a
queue of at most ``queue_size`` messages; when a queue is full the oldest message is dropped and counted.
On every arrival the newest message is matched with the closest-in-time message of the other queue; a match
emits the pair and discards everything at or before it in both queues (those can no longer form a better
pair, since stamps only move forward).  A message stamped at or before the last emitted pair is *stale*
(out of order, or a replayed past): it is rejected and counted, never matched.

:class:`BoundedQueue` is the drop-oldest queue between the synchroniser and the inference worker.
"""
from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Any, Generic, Optional, TypeVar

__all__ = ["ApproximateSync", "BoundedQueue", "SyncedPair"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class SyncedPair:
    """An image and a point cloud taken at about the same time (stamps in seconds)."""

    image_stamp: float
    image: Any
    points_stamp: float
    points: Any

    @property
    def stamp(self) -> float:
        """The pair's time: the later of the two stamps."""
        return max(self.image_stamp, self.points_stamp)


class BoundedQueue(Generic[T]):
    """A thread-safe FIFO of at most ``maxsize`` items that drops its oldest item when full.

    ``dropped`` counts the items pushed out; :meth:`get` blocks until an item arrives, ``timeout`` passes
    or :meth:`close` is called (then it returns ``None``).
    """

    def __init__(self, maxsize: int):
        if maxsize < 1:
            raise ValueError(f"BoundedQueue: maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self.dropped = 0
        self._items: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: T) -> Optional[T]:
        """Append ``item``; returns the item dropped to make room, if any."""
        with self._cond:
            dropped = None
            if len(self._items) >= self.maxsize:
                dropped = self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()
            return dropped

    def get(self, timeout: Optional[float] = None) -> Optional[T]:
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout=timeout):
                return None
            return self._items.popleft() if self._items else None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class ApproximateSync:
    """Pairs ``image`` and ``points`` messages whose stamps differ by at most ``tolerance`` seconds.

    Args:
        tolerance: largest stamp difference of a pair, in seconds.
        queue_size: messages kept per stream while waiting for a partner.

    Attributes:
        dropped: ``{"image": n, "points": n}`` messages pushed out of a full queue unmatched.
        stale: ``{"image": n, "points": n}`` messages rejected for a stamp at or before the last pair.
    """

    STREAMS = ("image", "points")

    def __init__(self, *, tolerance: float, queue_size: int):
        if tolerance < 0:
            raise ValueError(f"ApproximateSync: tolerance must be >= 0 s, got {tolerance}")
        if queue_size < 1:
            raise ValueError(f"ApproximateSync: queue_size must be >= 1, got {queue_size}")
        self.tolerance = float(tolerance)
        self.queue_size = int(queue_size)
        self._queues: dict[str, collections.deque] = {s: collections.deque() for s in self.STREAMS}
        self._last_pair_stamp = float("-inf")
        self._lock = threading.Lock()
        self.dropped = {s: 0 for s in self.STREAMS}
        self.stale = {s: 0 for s in self.STREAMS}

    def add(self, stream: str, stamp: float, item: Any) -> Optional[SyncedPair]:
        """Offer a message; returns the pair it completes, or ``None``."""
        if stream not in self._queues:
            raise ValueError(f"ApproximateSync: stream must be one of {self.STREAMS}, got {stream!r}")
        other = "points" if stream == "image" else "image"
        with self._lock:
            if stamp <= self._last_pair_stamp:
                self.stale[stream] += 1
                return None
            queue = self._queues[stream]
            if queue and stamp < queue[-1][0]:      # out of order within the stream
                self.stale[stream] += 1
                return None
            if len(queue) >= self.queue_size:
                queue.popleft()
                self.dropped[stream] += 1
            queue.append((stamp, item))
            partners = self._queues[other]
            if not partners:
                return None
            best = min(range(len(partners)), key=lambda i: abs(partners[i][0] - stamp))
            if abs(partners[best][0] - stamp) > self.tolerance:
                return None
            partner_stamp, partner = partners[best]
            for _ in range(best + 1):                # the partner, and the older ones it beat (unmatched)
                partners.popleft()
            self.dropped[other] += best
            queue.clear()                            # this message is the newest of its stream
            self._last_pair_stamp = max(stamp, partner_stamp)
            while partners and partners[0][0] <= self._last_pair_stamp:   # can only pair with the past now
                partners.popleft()
                self.dropped[other] += 1
            if stream == "image":
                return SyncedPair(image_stamp=stamp, image=item, points_stamp=partner_stamp, points=partner)
            return SyncedPair(image_stamp=partner_stamp, image=partner, points_stamp=stamp, points=item)

    def pending(self) -> dict[str, int]:
        with self._lock:
            return {s: len(q) for s, q in self._queues.items()}
