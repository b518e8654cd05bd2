"""The writer's queue (api/group_queue.py): groups, the wait for company, and when it is skipped."""

from __future__ import annotations

import threading
import time

import pytest

from reachguard.api.group_queue import GroupQueue


def _later(seconds: float, fn, *args) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        fn(*args)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _taken_at_once(queue: GroupQueue, *args, **kwargs) -> list | None:
    """queue.take(...), checking it did not start the tests' 30 s wait for company."""
    started = time.monotonic()
    group = queue.take(*args, **kwargs)
    assert time.monotonic() - started < 10
    return group


def _is_decision(job: tuple) -> bool:
    return job[0] == "d"


def test_takes_everything_queued_in_order_up_to_the_limit() -> None:
    queue: GroupQueue[int] = GroupQueue()
    for job in (3, 4, 5, 6):
        queue.put(job)
    assert queue.take(size=lambda job: job, limit=8) == [3, 4]  # 3 + 4 + 5 > 8
    assert queue.take(size=lambda job: job, limit=8) == [5]
    assert queue.take(size=lambda job: job, limit=8) == [6]


def test_a_job_that_cannot_be_grouped_goes_alone_and_stops_a_group() -> None:
    queue: GroupQueue[str] = GroupQueue()
    for job in ("d1", "d2", "call", "d3"):
        queue.put(job)
    groupable = lambda job: job.startswith("d")  # noqa: E731
    assert queue.take(groupable) == ["d1", "d2"]
    assert queue.take(groupable) == ["call"]
    assert queue.take(groupable) == ["d3"]


def test_a_lone_caller_never_waits() -> None:
    """With no recent group larger than one, the target is one: the wait is never started,
    even a very long one."""
    queue: GroupQueue[int] = GroupQueue(wait=30.0)
    for job in range(5):
        queue.put(job)
        assert _taken_at_once(queue) == [job]
    assert queue.target() == 1


def test_waits_for_as_many_as_the_recent_groups_held() -> None:
    queue: GroupQueue[int] = GroupQueue(wait=30.0)
    for job in range(3):
        queue.put(job)
    assert queue.take() == [0, 1, 2]
    assert queue.target() == 3
    queue.put(10)
    late = _later(0.05, lambda: (queue.put(11), queue.put(12)))
    assert queue.take() == [10, 11, 12]  # without the wait: [10]
    late.join()


def test_without_a_wait_takes_what_is_queued() -> None:
    queue: GroupQueue[int] = GroupQueue(wait=0.0)
    for job in range(3):
        queue.put(job)
    assert queue.take() == [0, 1, 2]
    queue.put(10)
    late = _later(0.05, lambda: (queue.put(11), queue.put(12)))
    assert queue.take() == [10]
    late.join()
    assert queue.take() == [11, 12]


def test_the_wait_ends_at_its_deadline_with_what_came() -> None:
    queue: GroupQueue[int] = GroupQueue(wait=0.05)
    for job in range(4):
        queue.put(job)
    queue.take()
    queue.put(10)
    assert queue.take() == [10]  # nobody else came within 50 ms


def test_the_target_forgets_old_groups() -> None:
    queue: GroupQueue[int] = GroupQueue(wait=0.01, recent=3)
    for job in range(6):
        queue.put(job)
    queue.take()
    assert queue.target() == 6
    for job in range(3):
        queue.put(job)
        queue.take()
    assert queue.target() == 1


def test_close_ends_a_wait_and_hands_out_what_is_queued() -> None:
    queue: GroupQueue[int] = GroupQueue(wait=30.0)
    for job in range(4):
        queue.put(job)
    queue.take()
    queue.put(7)
    closer = _later(0.05, queue.close)
    started = time.monotonic()
    assert queue.take() == [7]
    assert time.monotonic() - started < 10
    closer.join()
    assert queue.put(8) is False  # refused once closed
    assert queue.take() is None


def test_two_takers_share_the_jobs_and_neither_gets_an_empty_group() -> None:
    """A second writer thread can take the jobs the first is waiting with; the first then
    waits for new jobs instead of returning an empty group. Every job is handed out once."""
    queue: GroupQueue[int] = GroupQueue(wait=0.02)
    for job in range(4):
        queue.put(job)
    queue.take()  # the target is now 4, so takers wait
    groups: list[list[int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def taker() -> None:
        try:
            while (group := queue.take()) is not None:
                with lock:
                    groups.append(group)
        except BaseException as exc:  # e.g. IndexError from popping an empty queue
            errors.append(exc)

    takers = [threading.Thread(target=taker) for _ in range(2)]
    for thread in takers:
        thread.start()
    for job in range(100, 400):
        queue.put(job)
        if job % 7 == 0:
            time.sleep(0.001)
    queue.close()
    for thread in takers:
        thread.join(30)
    assert not any(thread.is_alive() for thread in takers), "a taker did not end on close()"
    assert errors == []
    assert all(groups), "an empty group was handed out"
    assert sorted(job for group in groups for job in group) == list(range(100, 400))
    assert all(group == sorted(group) for group in groups)


@pytest.mark.parametrize("wait", [-1, float("inf"), float("nan")])
def test_a_wait_that_is_not_a_finite_positive_number_is_refused(wait: float) -> None:
    with pytest.raises(ValueError, match="wait"):
        GroupQueue(wait=wait)


def test_the_limit_is_inclusive() -> None:
    queue: GroupQueue[int] = GroupQueue()
    for job in (3, 5, 1):
        queue.put(job)
    assert queue.take(size=lambda job: job, limit=8) == [3, 5]


def test_the_target_is_the_largest_recent_group() -> None:
    queue: GroupQueue[int] = GroupQueue(wait=0.01)
    for job in range(5):
        queue.put(job)
    queue.take()
    queue.put(9)
    queue.take()
    assert queue.target() == 5


def test_groups_older_than_the_horizon_do_not_count() -> None:
    """After a burst, a caller alone waits only while the burst is recent."""
    queue: GroupQueue[int] = GroupQueue(wait=30.0, horizon=0.05)
    for job in range(6):
        queue.put(job)
    queue.take()
    assert queue.target() == 6
    time.sleep(0.1)
    assert queue.target() == 1
    queue.put(7)
    assert _taken_at_once(queue) == [7]
    assert GroupQueue(wait=0.0005).horizon == pytest.approx(0.025)  # default: 50 waits


def _queue_with_target(target: int, wait: float = 30.0, **kwargs) -> GroupQueue:
    queue: GroupQueue = GroupQueue(wait=wait, **kwargs)
    for job in range(target):
        queue.put(("d", 1))
    queue.take(_is_decision)
    assert queue.target() == target
    return queue


def test_a_job_that_cannot_be_grouped_never_waits() -> None:
    queue = _queue_with_target(4)
    queue.put(("call", 0))
    assert _taken_at_once(queue, _is_decision) == [("call", 0)]


def test_no_wait_when_a_job_that_cannot_join_comes_next() -> None:
    """Nothing arriving later could join the first group: it is taken at once."""
    queue = _queue_with_target(4)
    queue.put(("d", 1))
    queue.put(("call", 0))
    assert _taken_at_once(queue, _is_decision) == [("d", 1)]


def test_no_wait_when_the_group_is_already_full() -> None:
    queue = _queue_with_target(4)
    queue.put(("d", 10))
    assert _taken_at_once(queue, _is_decision, size=lambda job: job[1], limit=10) == [("d", 10)]


def test_the_wait_ends_at_a_fixed_deadline_while_jobs_trickle_in() -> None:
    """Arrivals do not restart the wait: with a 0.2 s wait and a job every 20 ms, the group
    closes long before the target of 50 is reached."""
    queue: GroupQueue[int] = GroupQueue(wait=0.2)
    for job in range(50):
        queue.put(job)
    queue.take()
    queue.put(0)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.02):
            queue.put(1)

    feeder = threading.Thread(target=trickle)
    feeder.start()
    try:
        group = queue.take()
    finally:
        stop.set()
        feeder.join()
    assert group is not None and 1 <= len(group) < 50
