#!/usr/bin/env python3
"""Unit tests of wgl.py: the search on a register model, and baton's lock model on
known-good and known-bad histories.  python3 -m unittest test_wgl (from tests/fault)."""
import unittest

import wgl
from wgl import Op

S = 1_000_000_000  # a second in ns; times below are in whole "ticks" of 1 s


class RegisterModel:
    """A read/write register (value 0 at first): the textbook WGL test object."""

    def init(self):
        return 0

    def step(self, s, op):
        if op.f == "write":
            return [op.token]
        if op.status == "info":
            return [s]
        return [s] if op.token == s else []


def w(client, call, ret, value):
    return Op(client, "write", call * S, None if ret is None else ret * S, token=value)


def r(client, call, ret, value):
    return Op(client, "read", call * S, ret * S, token=value)


class SearchTest(unittest.TestCase):
    def lin(self, ops, model=None):
        return wgl.check(ops, model or RegisterModel()).ok

    def test_sequential(self):
        self.assertTrue(self.lin([w("a", 0, 1, 1), r("b", 2, 3, 1), w("a", 4, 5, 2),
                                  r("b", 6, 7, 2)]))

    def test_concurrent_read_sees_either(self):
        self.assertTrue(self.lin([w("a", 0, 10, 1), r("b", 1, 2, 0), r("c", 3, 4, 1)]))
        self.assertTrue(self.lin([w("a", 0, 10, 1), r("b", 1, 2, 1), r("c", 3, 4, 1)]))

    def test_read_goes_back(self):
        # Once a read saw the new value, a later read cannot see the old one.
        self.assertFalse(self.lin([w("a", 0, 10, 1), r("b", 1, 2, 1), r("c", 3, 4, 0)]))

    def test_stale_read_after_write(self):
        self.assertFalse(self.lin([w("a", 0, 1, 1), r("b", 2, 3, 0)]))

    def test_value_never_written(self):
        self.assertFalse(self.lin([w("a", 0, 1, 1), r("b", 2, 3, 7)]))

    def test_unknown_write_may_happen_late(self):
        # A write whose outcome is unknown may take effect any time after its call.
        self.assertTrue(self.lin([w("a", 0, None, 1), r("b", 5, 6, 0), r("b", 7, 8, 1)]))

    def test_unknown_write_may_never_happen(self):
        self.assertTrue(self.lin([w("a", 0, None, 1), r("b", 5, 6, 0)]))

    def test_unknown_write_not_before_call(self):
        self.assertFalse(self.lin([r("b", 0, 1, 1), w("a", 2, None, 1)]))

    def test_failure_reports_stuck_operation(self):
        res = wgl.check([w("a", 0, 1, 1), r("b", 2, 3, 0)], RegisterModel())
        self.assertFalse(res.ok)
        self.assertEqual(res.stuck.f, "read")

    def test_budget(self):
        ops = [w("c%d" % i, 0, 100, i) for i in range(1, 14)] + [r("x", 200, 201, 99)]
        res = wgl.check(ops, RegisterModel(), max_steps=1000)
        self.assertIsNone(res.ok)


# ---- the lock model -----------------------------------------------------------

def op(client, f, call, ret, status="ok", **kw):
    return Op(client, f, call * S, None if ret is None else ret * S, status=status, **kw)


def lin(ops):
    ops = wgl.prepare(ops)
    results = [wgl.check(group, wgl.LockModel(group)).ok
               for group in wgl.partition(ops).values()]
    return all(results)


def holder_cycle(client, lease, token, t, lock="L"):
    """grant, acquire, check, release, revoke, one tick each, from t."""
    return [op(client, "grant", t, t + 1, lease=lease),
            op(client, "acquire", t + 1, t + 2, lease=lease, lock=lock, token=token, wait=3000),
            op(client, "check", t + 2, t + 3, lock=lock, token=token, current=True),
            op(client, "release", t + 3, t + 4, lease=lease, lock=lock),
            op(client, "revoke", t + 4, t + 5, lease=lease)]


class LockModelGood(unittest.TestCase):
    def test_sequential_holders(self):
        self.assertTrue(lin(holder_cycle("a", 1, 2, 0) + holder_cycle("b", 10, 11, 10)))

    def test_queued_waiter_granted_at_release(self):
        # b waits while a holds; a's release hands the lock to b.
        ops = [op("a", "grant", 0, 1, lease=1), op("b", "grant", 0, 1, lease=2),
               op("a", "acquire", 1, 2, lease=1, lock="L", token=3, wait=3000),
               op("b", "acquire", 3, 9, lease=2, lock="L", token=8, wait=3000),
               op("a", "release", 5, 6, lease=1, lock="L"),
               op("b", "release", 10, 11, lease=2, lock="L")]
        self.assertTrue(lin(ops))

    def test_expired_holder_replaced(self):
        # a's lease ran out (nothing more from a afterwards): b may take the lock.
        ops = [op("a", "grant", 0, 1, lease=1),
               op("a", "acquire", 1, 2, lease=1, lock="L", token=3),
               op("b", "grant", 5, 6, lease=2),
               op("b", "acquire", 6, 7, lease=2, lock="L", token=9),
               op("a", "release", 8, 9, "fail", err="EEXPIRED", lease=1, lock="L")]
        self.assertTrue(lin(ops))

    def test_unknown_acquire_seen_by_inspect(self):
        ops = [op("a", "grant", 0, 1, lease=1),
               op("a", "acquire", 1, None, "info", err="ETIMEDOUT", lease=1, lock="L", wait=3000),
               op("b", "inspect", 5, 6, lock="L", held=True, holder=1, token=4)]
        self.assertTrue(lin(ops))

    def test_release_retried_after_it_took_effect(self):
        ops = holder_cycle("a", 1, 2, 0)[:2] + [
            op("a", "release", 3, 4, "fail", err="ENOTFOUND", lease=1, lock="L"),
            op("b", "grant", 5, 6, lease=2),
            op("b", "acquire", 6, 7, lease=2, lock="L", token=9, wait=0)]
        self.assertTrue(lin(ops))

    def test_trylock_refused_while_held(self):
        ops = holder_cycle("a", 1, 2, 0)[:2] + [
            op("b", "grant", 2, 3, lease=5),
            op("b", "acquire", 3, 4, "fail", err="ELOCKED", lease=5, lock="L", wait=0),
            op("a", "release", 5, 6, lease=1, lock="L")]
        self.assertTrue(lin(ops))

    def test_lease_only(self):
        ops = [op("s", "grant", 0, 1, lease=7), op("s", "keepalive", 2, 3, lease=7),
               op("s", "keepalive", 9, 10, "fail", err="EEXPIRED", lease=7),
               op("s", "revoke", 11, 12, "fail", err="EEXPIRED", lease=7)]
        self.assertTrue(lin(ops))

    def test_reacquire_same_token(self):
        ops = holder_cycle("a", 1, 2, 0)[:2] + [
            op("a", "acquire", 2, 3, lease=1, lock="L", token=2, wait=0)]
        self.assertTrue(lin(ops))


class LockModelBad(unittest.TestCase):
    def test_two_holders(self):
        # b takes the lock while a holds it, and a's lease is still alive later.
        ops = [op("a", "grant", 0, 1, lease=1),
               op("a", "acquire", 1, 2, lease=1, lock="L", token=3),
               op("b", "grant", 3, 4, lease=2),
               op("b", "acquire", 4, 5, lease=2, lock="L", token=6),
               op("a", "release", 6, 7, lease=1, lock="L")]
        self.assertFalse(lin(ops))

    def test_alive_after_expired(self):
        ops = [op("s", "grant", 0, 1, lease=7),
               op("s", "keepalive", 2, 3, "fail", err="EEXPIRED", lease=7),
               op("s", "keepalive", 4, 5, lease=7)]
        self.assertFalse(lin(ops))

    def test_token_goes_down(self):
        self.assertFalse(lin(holder_cycle("a", 1, 20, 0) + holder_cycle("b", 30, 11, 10)))

    def test_check_true_after_release(self):
        ops = holder_cycle("a", 1, 2, 0) + [
            op("b", "check", 6, 7, lock="L", token=2, current=True)]
        self.assertFalse(lin(ops))

    def test_inspect_shows_lease_that_never_acquired(self):
        ops = holder_cycle("a", 1, 2, 0)[:2] + [
            op("b", "inspect", 3, 4, lock="L", held=True, holder=99, token=2)]
        self.assertFalse(lin(ops))

    def test_inspect_wrong_token(self):
        ops = holder_cycle("a", 1, 2, 0)[:2] + [
            op("b", "inspect", 3, 4, lock="L", held=True, holder=1, token=5)]
        self.assertFalse(lin(ops))

    def test_trylock_refused_on_free_lock(self):
        ops = [op("b", "grant", 0, 1, lease=5),
               op("b", "acquire", 1, 2, "fail", err="ELOCKED", lease=5, lock="L", wait=0)]
        self.assertFalse(lin(ops))

    def test_release_by_non_holder(self):
        ops = [op("b", "grant", 0, 1, lease=5),
               op("b", "release", 1, 2, lease=5, lock="L")]
        self.assertFalse(lin(ops))

    def test_revoked_lease_acquires(self):
        ops = [op("b", "grant", 0, 1, lease=5), op("b", "revoke", 1, 2, lease=5),
               op("b", "acquire", 3, 4, lease=5, lock="L", token=9)]
        self.assertFalse(lin(ops))

    def test_same_token_two_leases(self):
        self.assertFalse(lin(holder_cycle("a", 1, 7, 0) + holder_cycle("b", 2, 7, 10)))


class PartitionTest(unittest.TestCase):
    def test_groups(self):
        ops = (holder_cycle("a", 1, 2, 0, lock="L") + holder_cycle("b", 3, 4, 0, lock="M") +
               [op("s", "grant", 0, 1, lease=9), op("s", "revoke", 1, 2, lease=9)])
        groups = wgl.partition(ops)
        self.assertEqual(len(groups), 3)
        sizes = sorted(len(g) for g in groups.values())
        self.assertEqual(sizes, [2, 5, 5])


if __name__ == "__main__":
    unittest.main()
