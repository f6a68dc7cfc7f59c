"""crypto/shared_pass.py: a pass shared with a forked child gives exactly the
sequential results, in order; a child that fails or dies costs nothing but time
(its part is computed here, where ``work`` raises to the caller); no child is
left behind."""

from __future__ import annotations

import os
import select
import signal
import time

import pytest

from dossier.crypto import shared_pass, verify_aside


@pytest.fixture
def forced(monkeypatch):
    monkeypatch.setattr(shared_pass, "MIN_ITEMS", 1)
    monkeypatch.setattr(shared_pass, "_single_threaded", lambda: True)
    monkeypatch.setattr(shared_pass, "_cores", lambda: 2)
    return os.getpid()


def no_child_left():
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


class Turns:
    """The child starts only once the parent has taken an item (on a busy host the child could
    otherwise do everything before the parent runs at all); then the parent lingers over each
    item, so the child takes most of them."""

    def __init__(self, parent: int):
        self.parent, (self.r, self.w) = parent, os.pipe()
        self.started = False

    def __call__(self, i: int) -> None:
        if os.getpid() == self.parent:
            if not self.started:
                self.started = True
                os.write(self.w, b"go")
            time.sleep(0.002)
        elif not self.started:
            self.started = True
            select.select([self.r], [], [], 10)

    def close(self):
        os.close(self.r)
        os.close(self.w)


@pytest.fixture
def slow_here(forced):
    turns = Turns(forced)
    yield lambda parent, i: turns(i)
    turns.close()


def test_results_in_order_and_both_processes_work(forced, slow_here):
    def work(i):
        slow_here(forced, i)
        return i * i, {"i": i, "s": "名" * (i % 5)}, os.getpid()

    got = shared_pass.map_shared(500, work, chunk=7)
    assert [g[:2] for g in got] == [(i * i, {"i": i, "s": "名" * (i % 5)}) for i in range(500)]
    pids = {g[2] for g in got}
    assert forced in pids and len(pids) == 2          # the child answered some chunks
    no_child_left()


def test_an_exception_met_in_the_child_is_raised_here(forced, slow_here):
    seen_here = []

    def work(i):
        slow_here(forced, i)
        if os.getpid() == forced:
            seen_here.append(i)
        if i == 300:
            raise ValueError("第 300 项损坏")
        return i

    with pytest.raises(ValueError, match="300"):
        shared_pass.map_shared(400, work, chunk=10)
    no_child_left()


def test_a_child_that_dies_leaves_its_part_to_the_parent(forced, slow_here):
    def work(i):
        slow_here(forced, i)
        if os.getpid() != forced and i >= 250:
            os.kill(os.getpid(), signal.SIGKILL)
        return -i

    assert shared_pass.map_shared(400, work, chunk=10) == [-i for i in range(400)]
    no_child_left()


def test_no_child_below_the_threshold_on_one_core_or_when_turned_off(monkeypatch):
    forks = []
    monkeypatch.setattr(shared_pass.os, "fork", lambda: forks.append(1) or 1 / 0)
    monkeypatch.setattr(shared_pass, "_single_threaded", lambda: True)
    monkeypatch.setattr(shared_pass, "_cores", lambda: 2)
    assert shared_pass.map_shared(10, lambda i: i) == list(range(10))      # < MIN_ITEMS
    monkeypatch.setattr(shared_pass, "MIN_ITEMS", 1)
    monkeypatch.setattr(shared_pass, "_cores", lambda: 1)
    assert shared_pass.map_shared(10, lambda i: i) == list(range(10))
    monkeypatch.setattr(shared_pass, "_cores", verify_aside._cores)     # the real switch
    monkeypatch.setenv("DOSSIER_VERIFY_ASIDE", "0")
    assert shared_pass.map_shared(10, lambda i: i) == list(range(10))
    assert not forks
