"""One socket's outbox (services/server/live/outbox.py): order, numbering, coalescing, the
rate per key, and when a socket is too slow. Time is passed in."""

from __future__ import annotations

import itertools

import orjson
from hypothesis import given
from hypothesis import strategies as st

from exness.services.server.live.outbox import Outbox


def drain(outbox: Outbox, now: float) -> list[dict]:
    frames = []
    while True:
        frame, _ = outbox.take(now)
        if frame is None:
            return frames
        frames.append(orjson.loads(frame))


def test_control_first_then_private_in_order_then_coalesced_each_numbered_once():
    box = Outbox()
    box.coalesce("quotes:SOL", '{"channel":"quotes","n":1}', 0.0)
    box.private('{"channel":"account","n":2}', 0.0)
    box.control('{"type":"pong"}')
    box.private('{"type":"resync"}', 0.0, numbered=False)
    box.private('{"channel":"account","n":3}', 0.0)
    frames = drain(box, 0.0)
    assert frames == [
        {"type": "pong"},
        {"seq": 1, "channel": "account", "n": 2},
        {"type": "resync"},
        {"seq": 2, "channel": "account", "n": 3},
        {"seq": 3, "channel": "quotes", "n": 1},
    ]
    assert box.take(0.0) == (None, None)


def test_a_burst_of_quotes_keeps_only_the_latest_at_most_once_per_interval():
    box = Outbox(interval_s=0.1)
    for n in range(50):
        box.coalesce("quotes:SOL", f'{{"n":{n}}}', 0.0)
    assert drain(box, 0.0) == [{"seq": 1, "n": 49}]
    box.coalesce("quotes:SOL", '{"n":50}', 0.01)
    box.coalesce("quotes:SOL", '{"n":51}', 0.02)
    box.coalesce("quotes:ETH", '{"n":"eth"}', 0.02)  # another key is not held back
    assert drain(box, 0.02) == [{"seq": 2, "n": "eth"}]
    frame, wait = box.take(0.05)
    assert frame is None and abs(wait - 0.05) < 1e-9  # SOL may go again at 0.1
    assert drain(box, 0.1) == [{"seq": 3, "n": 51}]  # the last of the burst, on time


def test_forget_drops_what_waits_for_a_channel_left():
    box = Outbox()
    box.coalesce("quotes:SOL", "{}", 0.0)
    box.coalesce("candles:SOL:1m", "{}", 0.0)
    box.forget("quotes:")
    assert len(box) == 1


def test_a_socket_is_too_slow_with_too_many_private_events_or_one_too_old():
    box = Outbox(max_private=3, slow_after_s=5.0)
    assert box.private("{}", 0.0) is None
    assert box.private("{}", 1.0) is None
    assert box.private("{}", 2.0) is None
    assert "more than 3" in (box.private("{}", 2.0) or "")
    box = Outbox(max_private=100, slow_after_s=5.0)
    box.private("{}", 0.0)
    assert box.too_slow(4.9) is None
    assert "waited 5.0 s" in (box.too_slow(5.0) or "")
    box.take(5.0)
    assert box.too_slow(60.0) is None  # sent: nothing waits any more


def test_control_frames_are_bounded():
    box = Outbox(max_control=2)
    assert box.control("{}") and box.control("{}")
    assert not box.control("{}")


@given(st.lists(st.tuples(st.sampled_from(["p", "q", "e"]), st.integers(0, 9)), max_size=60))
def test_private_messages_are_never_dropped_nor_reordered(operations):
    box = Outbox(max_private=10_000, slow_after_s=1e9)
    sent, expected, now = [], [], 0.0
    for kind, n in operations:
        now += 0.03
        if kind == "p":
            body = f'{{"channel":"account","n":{len(expected)}}}'
            expected.append(len(expected))
            box.private(body, now)
        elif kind == "q":
            box.coalesce(f"quotes:{n % 3}", f'{{"channel":"quotes","n":{n}}}', now)
        else:
            frame, _ = box.take(now)
            if frame is not None:
                sent.append(orjson.loads(frame))
    sent += drain(box, now + 1)
    assert [m["n"] for m in sent if m["channel"] == "account"] == expected
    assert [m["seq"] for m in sent] == list(range(1, len(sent) + 1))


def test_late_writes_do_not_push_the_next_quote_later():
    """A feed quoting once per interval, a sender 5 ms late every time: each quote waits for
    the sender alone (5 ms), never for the delays of the ones before it (measured from the
    write, the 5 ms added up to a whole interval)."""
    box = Outbox(interval_s=0.1)
    latencies = []
    for n in range(100):
        arrived = n * 0.1
        due = box.coalesce("quotes:SOL", f'{{"n":{n}}}', arrived)
        sent_at = max(due, arrived) + 0.005  # the sender gets round to it 5 ms later
        (frame,) = drain(box, sent_at)
        assert frame["n"] == n
        latencies.append(sent_at - arrived)
    assert max(latencies) < 0.0051


@given(
    st.lists(st.tuples(st.floats(0.0, 0.25), st.floats(0.0, 0.03)), min_size=1, max_size=80),
)
def test_quotes_of_a_key_keep_an_interval_apart_and_the_last_of_a_burst_is_sent(steps):
    """Whatever the feed's rhythm and however late the sender: the slots of the quotes sent
    are an interval apart, each quote sent is the latest that had arrived, and a quote that
    is the last of its burst goes out within an interval (plus the sender's lateness)."""
    interval = 0.1
    box = Outbox(interval_s=interval)
    now, arrivals, sent = 0.0, [], []  # sent: (slot, n, at)
    for gap, lateness in steps:
        now += gap
        n = len(arrivals)
        arrivals.append(now)
        due = box.coalesce("quotes:SOL", f'{{"n":{n}}}', now)
        assert due <= now + interval + 1e-9
        at = max(now, due) + lateness
        # the sender wakes at `at` unless the next quote comes first
        if len(arrivals) == len(steps) or at <= now + steps[len(arrivals)][0]:
            for frame in drain(box, at):
                sent.append((due, frame["n"], at))
    for (slot_a, _, _), (slot_b, _, _) in itertools.pairwise(sent):
        assert slot_b - slot_a >= interval - 1e-9
    numbers = [n for _, n, _ in sent]
    assert numbers == sorted(numbers)
    assert numbers[-1] == len(arrivals) - 1  # the last of the burst always arrives
    _, _, last_at = sent[-1]
    assert last_at - arrivals[-1] <= interval + 0.03 + 1e-9


def test_a_quote_delayed_on_its_way_does_not_hold_back_the_next():
    """Quotes 100 ms apart at the feed; the first reaches us 40 ms late, the second on time
    (60 ms after it): the second goes at once, as its feed time is an interval later."""
    box = Outbox(interval_s=0.1)
    box.coalesce("quotes:SOL", '{"n":0}', now=1.04, at=1000.0)
    assert drain(box, 1.04) == [{"seq": 1, "n": 0}]
    assert box.coalesce("quotes:SOL", '{"n":1}', now=1.10, at=1000.1) == 1.10
    assert drain(box, 1.10) == [{"seq": 2, "n": 1}]


def test_quotes_closer_than_an_interval_at_the_feed_wait_for_the_rest_of_it():
    box = Outbox(interval_s=0.1)
    box.coalesce("quotes:SOL", '{"n":0}', now=5.0, at=1000.0)
    drain(box, 5.0)
    due = box.coalesce("quotes:SOL", '{"n":1}', now=5.03, at=1000.03)
    assert abs(due - 5.1) < 1e-9  # 70 ms of feed time still to go
    assert box.take(5.05)[0] is None
    due = box.coalesce("quotes:SOL", '{"n":2}', now=5.06, at=1000.12)  # latest wins ...
    assert due == 5.06  # ... and it is an interval on: it goes now
    assert drain(box, 5.06) == [{"seq": 2, "n": 2}]
    # a source clock that jumps back never holds a key for more than an interval
    due = box.coalesce("quotes:SOL", '{"n":3}', now=5.07, at=10.0)
    assert abs(due - 5.17) < 1e-9
    assert drain(box, 5.17) == [{"seq": 3, "n": 3}]
    assert box.coalesce("quotes:SOL", '{"n":4}', now=5.27, at=10.2) == 5.27  # on its slot


@given(st.lists(st.floats(0.0, 0.25), min_size=1, max_size=80), st.floats(0.0, 0.5))
def test_with_a_steady_delay_on_the_way_quotes_leave_an_interval_apart(gaps, delay):
    """The feed quotes at any rhythm; every quote takes `delay` to reach us; the sender
    sends each when it is due. The quotes leave an interval apart or more, none waits more
    than an interval, and the last one is sent."""
    interval = 0.1
    box = Outbox(interval_s=interval)
    feed, sent, waiting = 0.0, [], None  # sent: (when, n); waiting: when the one waiting is due
    for n, gap in enumerate(gaps):
        feed += gap
        now = feed + delay
        if waiting is not None and waiting <= now:  # it went before this one came
            (frame,) = drain(box, waiting)
            sent.append((waiting, frame["n"]))
        waiting = box.coalesce("quotes:SOL", f'{{"n":{n}}}', now, at=feed)
        assert now <= waiting <= now + interval + 1e-9
    (frame,) = drain(box, waiting)
    sent.append((waiting, frame["n"]))
    assert all(b - a >= interval - 1e-9 for (a, _), (b, _) in itertools.pairwise(sent))
    assert sent[-1][1] == len(gaps) - 1
