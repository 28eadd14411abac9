#!/usr/bin/env python3
"""Unit tests of the history parser and the checkers on hand-made histories, good and
bad.  python3 -m unittest test_checkers (from tests/fault)."""
import os
import shutil
import tempfile
import unittest

import checkers
import history

MS = 1_000_000


class Writer:
    """Builds a client's history file line by line (fc.h's format); t in ms."""

    def __init__(self, run_dir, client):
        self.client = client
        self.path = os.path.join(run_dir, "hist", client + ".hist")
        self.lines = []
        self.next_id = 0

    def ev(self, t, event, **kv):
        self.lines.append("%d %s %s %s" % (t * MS, self.client, event,
                                           " ".join("%s=%s" % i for i in kv.items())))

    def op(self, t0, t1, op, err="OK", **kv):
        self.next_id += 1
        self.ev(t0, "invoke", id=self.next_id, op=op, **kv)
        if t1 is not None:
            self.ev(t1, "done", id=self.next_id, op=op, err=err, **kv)

    def hold(self, t, hold, lease, token, lock="L", end=None, lost=None):
        """grant at t, acquire returning at t+2 (hold starts), unhold at end."""
        self.op(t, t + 1, "grant", lease=lease, ttl=1500)
        self.op(t + 1, t + 2, "acquire", lock=lock, lease=lease, token=token, wait=3000)
        self.ev(t + 2, "hold", hold=hold, lock=lock, lease=lease, token=token)
        if lost is not None:
            self.ev(lost, "lost", hold=hold, lease=lease, why="ETIMEDOUT")
        if end is not None:
            self.ev(end, "unhold", hold=hold)
            self.op(end, end + 1, "release", lock=lock, lease=lease)

    def write(self, t, hold, token, seq, deadline, result, lock="L"):
        self.ev(t, "write", hold=hold, lock=lock, token=token, seq=seq, at=t * MS,
                deadline=deadline, result=result, highest=token)

    def save(self):
        with open(self.path, "w") as f:
            f.write("\n".join(self.lines) + "\n")


class CheckerTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="test-checkers-")
        os.makedirs(os.path.join(self.dir, "hist"))

    def tearDown(self):
        shutil.rmtree(self.dir)

    def client(self, name):
        return Writer(self.dir, name)

    def load(self, *writers):
        for w in writers:
            w.save()
        return history.load(self.dir)


class MutualExclusionTest(CheckerTest):
    def test_overlapping_holds(self):
        a, b = self.client("a"), self.client("b")
        a.hold(0, 1, lease=1, token=5, end=100)
        b.hold(90, 1, lease=2, token=9, end=200)  # b's hold starts at 92, a's ends at 100
        self.assertFalse(checkers.mutual_exclusion(self.load(a, b)).ok)

    def test_release_before_next(self):
        a, b = self.client("a"), self.client("b")
        a.hold(0, 1, lease=1, token=5, end=100)
        b.hold(99, 1, lease=2, token=9, end=200)  # starts at 101
        self.assertTrue(checkers.mutual_exclusion(self.load(a, b)).ok)

    def test_lost_ends_the_hold(self):
        a, b = self.client("a"), self.client("b")
        a.hold(0, 1, lease=1, token=5, lost=50, end=300)
        b.hold(60, 1, lease=2, token=9, end=200)
        self.assertTrue(checkers.mutual_exclusion(self.load(a, b)).ok)

    def test_lost_while_queued(self):
        # b's keeper gave its lease up while b waited in the queue; the cluster then
        # granted and at once expired it, handing the lock to a. b never held it.
        a, b = self.client("a"), self.client("b")
        b.op(0, 1, "grant", lease=2, ttl=1500)
        b.ev(1500, "lost", hold=1, lease=2, why="ETIMEDOUT")
        b.op(1, 3000, "acquire", lock="L", lease=2, token=8, wait=3000)
        b.ev(3000, "hold", hold=1, lock="L", lease=2, token=8)
        b.ev(3000, "unhold", hold=1)
        a.hold(2997, 1, lease=1, token=9, end=3200)  # a's hold starts at 2999
        self.assertTrue(checkers.mutual_exclusion(self.load(a, b)).ok)

    def test_paused_hold_counts_until_its_pause(self):
        a, b = self.client("a"), self.client("b")
        a.hold(0, 1, lease=1, token=5)
        a.ev(10, "pause", hold=1, deadline=1000)
        a.ev(5000, "resume", hold=1)
        a.ev(5001, "unhold", hold=1)
        b.hold(3000, 1, lease=2, token=9, end=3100)
        self.assertTrue(checkers.mutual_exclusion(self.load(a, b)).ok)
        c = self.client("c")
        c.hold(5, 1, lease=3, token=7, end=8)  # during a's hold, before its pause
        self.assertFalse(checkers.mutual_exclusion(self.load(a, b, c)).ok)

    def test_other_locks_do_not_count(self):
        a, b = self.client("a"), self.client("b")
        a.hold(0, 1, lease=1, token=5, end=100, lock="L")
        b.hold(10, 1, lease=2, token=9, end=200, lock="M")
        self.assertTrue(checkers.mutual_exclusion(self.load(a, b)).ok)


class TokensTest(CheckerTest):
    def test_rising(self):
        a, b = self.client("a"), self.client("b")
        a.hold(0, 1, lease=1, token=5, end=10)
        b.hold(20, 1, lease=2, token=9, end=30)
        self.assertTrue(checkers.tokens(self.load(a, b)).ok)

    def test_falling(self):
        a, b = self.client("a"), self.client("b")
        a.hold(0, 1, lease=1, token=9, end=10)
        b.hold(20, 1, lease=2, token=5, end=30)
        self.assertFalse(checkers.tokens(self.load(a, b)).ok)

    def test_concurrent_acquires_any_order(self):
        a, b = self.client("a"), self.client("b")
        a.op(0, 1, "grant", lease=1, ttl=1500)
        a.op(1, 50, "acquire", lock="L", lease=1, token=9, wait=3000)
        a.ev(50, "hold", hold=1, lock="L", lease=1, token=9)
        b.hold(10, 1, lease=2, token=5, end=30)  # acquire [11, 12], inside a's acquire call
        self.assertTrue(checkers.tokens(self.load(a, b)).ok)

    def test_shared_token(self):
        a, b = self.client("a"), self.client("b")
        a.hold(0, 1, lease=1, token=5, end=10)
        b.hold(20, 1, lease=2, token=5, end=30)
        self.assertFalse(checkers.tokens(self.load(a, b)).ok)


class FencingTest(CheckerTest):
    def reglog(self, *rows):
        return [(t * MS, "L", tok, c, hold, seq, acc, before)
                for t, tok, c, hold, seq, acc, before in rows]

    def paused_writer(self, result):
        a, b = self.client("a"), self.client("b")
        a.hold(0, 1, lease=1, token=5)
        a.ev(10, "pause", hold=1, deadline=1000)
        a.ev(4000, "resume", hold=1)
        a.write(4001, 1, 5, 1, 1000, result)
        b.hold(2000, 1, lease=2, token=9, end=2100)
        b.write(2003, 1, 9, 1, 5000, "accepted")
        return self.load(a, b)

    def test_stale_write_refused(self):
        h = self.paused_writer("refused")
        log = self.reglog((2003, 9, "b", 1, 1, True, 0), (4001, 5, "a", 1, 1, False, 9))
        c = checkers.fencing(h, log)
        self.assertTrue(c.ok, c.details)
        self.assertIn("1 stale writes after a lost lease, 1 refused", c.summary)

    def test_stale_write_accepted(self):
        h = self.paused_writer("accepted")
        log = self.reglog((2003, 9, "b", 1, 1, True, 0), (4001, 5, "a", 1, 1, True, 9))
        self.assertFalse(checkers.fencing(h, log).ok)

    def test_live_holder_refused(self):
        a = self.client("a")
        a.hold(0, 1, lease=1, token=5, end=100)
        a.write(10, 1, 5, 1, 1000, "refused")  # deadline 1000 ms ahead: live
        log = self.reglog((10, 5, "a", 1, 1, False, 9))
        self.assertFalse(checkers.fencing(self.load(a), log).ok)

    def test_write_past_deadline_is_stale(self):
        a = self.client("a")
        a.hold(0, 1, lease=1, token=5, end=100)
        a.write(50, 1, 5, 1, 40, "refused")  # sent at 50 ms, deadline was 40 ms
        log = self.reglog((50, 5, "a", 1, 1, False, 9))
        self.assertTrue(checkers.fencing(self.load(a), log).ok)


class LeaseTimingTest(CheckerTest):
    def test_expired_after_ttl(self):
        s = self.client("lease-0")
        s.op(0, 1, "grant", lease=7, ttl=1000)
        s.op(300, 301, "keepalive", lease=7, ttl=1000)
        s.op(1400, 1401, "keepalive", err="EEXPIRED", lease=7)
        self.assertTrue(checkers.lease_timing(self.load(s)).ok)

    def test_expired_too_early(self):
        s = self.client("lease-0")
        s.op(0, 1, "grant", lease=7, ttl=1000)
        s.op(300, 301, "keepalive", lease=7, ttl=1000)
        s.op(900, 901, "keepalive", err="EEXPIRED", lease=7)
        self.assertFalse(checkers.lease_timing(self.load(s)).ok)

    def test_revoked_may_end_early(self):
        s = self.client("lease-0")
        s.op(0, 1, "grant", lease=7, ttl=1000)
        s.op(2, None, "revoke", lease=7)
        s.op(100, 101, "keepalive", err="EEXPIRED", lease=7)
        self.assertTrue(checkers.lease_timing(self.load(s)).ok)


class CountersTest(CheckerTest):
    def ctr(self, outcomes):
        c = self.client("counter-0")
        for i, err in enumerate(outcomes):
            c.op(i * 10, i * 10 + 1, "incr", err=err, node=1, name="ctr-1")
        return self.load(c)

    def test_within_bounds(self):
        h = self.ctr(["OK", "OK", "ETIMEDOUT"])  # acked 2, attempted 3
        for v in (2, 3):
            self.assertTrue(checkers.counters(h, {1: {"ctr-1": v}, 2: {"ctr-1": v}}).ok)

    def test_lost_or_doubled(self):
        h = self.ctr(["OK", "OK", "ETIMEDOUT"])
        for v in (1, 4):
            self.assertFalse(checkers.counters(h, {1: {"ctr-1": v}, 2: {"ctr-1": v}}).ok)

    def test_disagree(self):
        h = self.ctr(["OK", "OK"])
        self.assertFalse(checkers.counters(h, {1: {"ctr-1": 2}, 2: {"ctr-1": 1}}).ok)


class WriteGapTest(CheckerTest):
    def test_longest_gap(self):
        a = self.client("a")
        a.op(0, 10, "grant", lease=1, ttl=1500)
        a.op(10, 20, "acquire", lock="L", lease=1, token=3, wait=0)
        a.op(20, 900, "release", err="ETIMEDOUT", lock="L", lease=1)
        a.op(900, 1000, "revoke", lease=1)
        gap, start, end = checkers.write_gaps(self.load(a), 0, 1100 * MS)
        self.assertEqual((gap, start, end), (980 * MS, 20 * MS, 1000 * MS))


class LeaderTest(unittest.TestCase):
    def test_windows(self):
        s = 1_000_000_000
        mon = []
        for t in range(0, 10):  # node 1 leads, all follow, every second
            for k in range(1, 6):
                mon.append((t * s, k, "leader" if k == 1 else "follower", 2, 1))
        for t in range(14, 20):  # after a gap, node 2 leads in term 3
            for k in range(1, 6):
                mon.append((t * s, k, "leader" if k == 2 else "follower", 3, 2))
        gap, start, end = checkers.leaderless_windows(sorted(mon), 0, 19 * s)
        self.assertEqual((gap, start, end), (5 * s, 9 * s, 14 * s))

    def test_deposed_leader_alone_does_not_count(self):
        s = 1_000_000_000
        mon = [(s, 1, "leader", 2, 1), (s, 2, "follower", 3, 0), (s, 3, "follower", 3, 0),
               (s, 4, "candidate", 3, 0), (s, 5, None, 0, 0)]
        self.assertEqual(checkers.leader_sightings(mon, 5), [])


if __name__ == "__main__":
    unittest.main()
