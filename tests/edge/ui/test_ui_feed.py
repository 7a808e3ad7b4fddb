"""The UI's feed thread against a real publisher: batching, source filter, bounded buffer, clean stop."""

from __future__ import annotations

import threading
import time

from ui_helpers import make_publisher

from edge.ui.feed import Feed, topics_for


def _sync(pub, feed: Feed, woke: threading.Event) -> None:
    deadline = time.monotonic() + 8.0
    while not woke.is_set():
        assert time.monotonic() < deadline, "feed never heard the publisher"
        pub.heartbeat()
        woke.wait(0.05)
    time.sleep(0.1)
    feed.take()
    woke.clear()


def test_topics_for_one_source() -> None:
    assert topics_for(None) == ["crossglg.v1."]
    assert "crossglg.v1.pose.cam0" in topics_for("cam0") and len(topics_for("cam0")) == 4


def test_wakes_once_per_batch_and_bounds_its_buffer() -> None:
    wakes = 0
    woke = threading.Event()

    def wake() -> None:
        nonlocal wakes
        wakes += 1
        woke.set()

    with make_publisher() as pub:
        feed = Feed(pub.endpoint, wake, max_buffer=50).start()
        try:
            _sync(pub, feed, woke)
            wakes = 0
            for i in range(200):  # nobody takes: the buffer keeps the newest 50
                pub.publish_label(track_id=1, state="none", reason="idle", t_frame=float(i))
            deadline = time.monotonic() + 5.0
            while feed.dropped < 150 and time.monotonic() < deadline:
                time.sleep(0.02)
            msgs = feed.take()
            assert wakes == 1  # the UI gets one wake-up however many messages arrive before it takes
            assert len(msgs) == 50 and feed.dropped == 150
            assert [m.payload["t_frame"] for m in msgs] == [float(i) for i in range(150, 200)]
        finally:
            feed.stop()
        assert not feed._thread.is_alive()


def test_source_filter_drops_prefix_lookalikes() -> None:
    woke = threading.Event()
    with make_publisher(source="cam0") as pub, make_publisher(source="cam01") as other:
        feed = Feed(pub.endpoint, woke.set, source="cam0").start()
        feed2 = Feed(other.endpoint, lambda: None, source="cam0").start()  # subscribed to cam0 on cam01's socket
        try:
            _sync(pub, feed, woke)
            for _ in range(20):
                other.heartbeat()
                time.sleep(0.01)
            pub.heartbeat()
            woke.wait(2.0)
            time.sleep(0.2)
            assert {m.source for m in feed.take()} == {"cam0"}
            assert feed2.take() == []  # "crossglg.v1.hb.cam0" prefix matches cam01's topic, payload check drops it
        finally:
            feed.stop()
            feed2.stop()
