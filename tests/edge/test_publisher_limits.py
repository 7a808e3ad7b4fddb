"""Real ZeroMQ sockets: a message too big for subscribers is never lost without a word, and a
publisher can wait for its subscribers (XPUB) so a scripted run loses no label to the slow joiner."""

from __future__ import annotations

import threading
import time

import pytest

from edge import protocol
from edge.client import subscribe
from edge.publisher import Publisher, PublisherConfig


def _label(pub: Publisher, label: str, i: int = 0) -> bool:
    return pub.publish_label(track_id=1, state="action", label=label, score=0.9, margin=0.3,
                             topk=[(label, 0.9)], t_frame=i / 30.0, latency_ms={"model": 1.0})  # fmt: skip


def test_oversize_message_is_refused_counted_and_seen_as_a_gap() -> None:
    with pytest.raises(protocol.ProtocolError, match="exceeds the 65536-byte limit"):
        protocol.encode(protocol.topic_for("label", "cam0"), {"pad": "x" * protocol.MAX_PAYLOAD_BYTES})
    cfg = PublisherConfig(endpoint="tcp://127.0.0.1:*", source="cam0", count_subscribers=True)
    with Publisher(cfg) as pub, subscribe(pub.endpoint, topics=["crossglg.v1.label."]) as sub:
        assert pub.wait_for_subscribers(1, 5.0) == 1
        assert _label(pub, "wave", 0)
        assert not _label(pub, "x" * 70_000, 1)  # would be refused by every subscriber's decode
        assert _label(pub, "wave", 2)
        got = [sub.recv(timeout=2.0) for _ in range(2)]
        assert [m.seq for m in got] == [0, 2] and sub.missed == 1 and sub.invalid == 0
        assert pub.stats["oversize"] == 1 and pub.stats["dropped"] == 1


def test_wait_for_subscribers_then_no_label_is_lost() -> None:
    """Two subscribers (prefix and exact label topic) plus one that only wants heartbeats: the wait
    returns once the two label subscriptions are in, and both then get every label from seq 0."""
    cfg = PublisherConfig(endpoint="tcp://127.0.0.1:*", source="cam0", count_subscribers=True)
    with Publisher(cfg) as pub:
        assert pub.wait_for_subscribers(1, 0.2) == 0  # nobody yet: the timeout says so
        with subscribe(pub.endpoint, topics=["crossglg.v1.hb."]) as hb_only:
            assert pub.wait_for_subscribers(1, 0.3) == 0  # heartbeats only: not a label subscriber
            result: list[int] = []
            waiter = threading.Thread(target=lambda: result.append(pub.wait_for_subscribers(2, 10.0)))
            waiter.start()
            time.sleep(0.2)
            with subscribe(pub.endpoint, topics=["crossglg.v1."]) as a, \
                    subscribe(pub.endpoint, topics=[protocol.topic_for("label", "cam0")]) as b:  # fmt: skip
                waiter.join(10.0)
                assert result == [2]
                for i in range(9):  # at once, no heartbeat handshake first
                    assert _label(pub, "wave", i)
                for sub in (a, b):
                    seqs = [m.seq for m in iter(lambda s=sub: s.recv(timeout=1.0), None) if m.kind == "label"]
                    assert seqs == list(range(9)), seqs
            assert hb_only.drain() == []
        # the unsubscriptions of the two that left arrive once ZeroMQ notices the disconnects
        deadline = time.monotonic() + 5.0
        while pub.label_subscriptions and time.monotonic() < deadline:
            pub.heartbeat()
            time.sleep(0.05)
        assert pub.label_subscriptions == 0


def test_plain_publisher_cannot_wait() -> None:
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as pub, pytest.raises(ValueError, match="count_subscribers"):
        pub.wait_for_subscribers(1, 0.1)
