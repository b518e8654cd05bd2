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
        started = time.monotonic()
        assert queue.take() == [job]
        assert time.monotonic() - started < 10  # not the 30 s wait
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
    assert errors == []
    assert all(groups), "an empty group was handed out"
    assert sorted(job for group in groups for job in group) == list(range(100, 400))
    assert all(group == sorted(group) for group in groups)


def test_a_negative_wait_is_refused() -> None:
    with pytest.raises(ValueError):
        GroupQueue(wait=-1)
