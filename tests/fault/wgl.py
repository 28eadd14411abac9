"""Linearizability checking: the Wing-Gong-Lowe search, and baton's lock/lease model.

check(ops, model) decides whether a concurrent history of operations has a
linearization: a total order that respects real time (an operation that returned
before another was invoked comes first) and in which the model accepts every
operation with the result it had. The search is Lowe's version of Wing & Gong's
algorithm, as Porcupine implements it: operations sit in a list of call and return
entries ordered by time; the search linearizes a pending call whenever the model
allows it, backtracks when it reaches the return of an operation it has not
linearized yet, and remembers every (set of linearized operations, state) pair it
has explored so that no configuration is explored twice.

Two differences from Porcupine's deterministic models: a model's step returns a
LIST of possible next states (empty = this operation cannot happen here), so
operations whose outcome is ambiguous can branch; and an operation whose outcome
is unknown (a timeout) has no return entry (it may take effect at any time after
its call, or never) -- the model must always offer "no effect" for it.

Histories are split by partition(), one object at a time (linearizability is
compositional, Herlihy & Wing 1990): here one lock together with the leases that
used it, or one lease.
"""

INF = float("inf")


class Op:
    """One operation. call and ret are CLOCK_MONOTONIC nanoseconds; ret is None
    when the outcome is unknown. f is the operation ("acquire", ...), status is
    "ok", "fail" (a definite error, err) or "info" (outcome unknown); the other
    fields are the operation's arguments and results, None where they do not apply."""

    __slots__ = ("client", "f", "call", "ret", "status", "err", "lease", "lock", "token",
                 "wait", "current", "held", "holder", "cancel_ok", "ttl", "line")

    def __init__(self, client, f, call, ret, status="ok", err=None, lease=None, lock=None,
                 token=None, wait=0, current=None, held=None, holder=None, cancel_ok=False,
                 ttl=None, line=""):
        self.client, self.f, self.call, self.ret = client, f, call, ret
        self.status, self.err = status, err
        self.lease, self.lock, self.token, self.wait = lease, lock, token, wait
        self.current, self.held, self.holder = current, held, holder
        self.cancel_ok, self.ttl, self.line = cancel_ok, ttl, line

    def __repr__(self):
        fields = ["%s %s %s" % (self.client, self.f, self.status)]
        for k in ("err", "lease", "lock", "token", "current", "held", "holder"):
            v = getattr(self, k)
            if v is not None:
                fields.append("%s=%s" % (k, v))
        ret = "?" if self.ret is None else "%.3f" % (self.ret / 1e9)
        return "[%.3f..%s] %s" % (self.call / 1e9, ret, " ".join(fields))


class Result:
    """ok is True (linearizable), False (not) or None (the search ran out of budget).
    On False, prefix is the longest linearized prefix found and stuck the operation
    whose return the search could not get past."""

    def __init__(self, ok, steps, prefix=None, stuck=None):
        self.ok, self.steps, self.prefix, self.stuck = ok, steps, prefix or [], stuck


class _Entry:
    __slots__ = ("op", "idx", "is_call", "time", "match", "prev", "next")

    def __init__(self, op, idx, is_call, time):
        self.op, self.idx, self.is_call, self.time = op, idx, is_call, time
        self.match = self.prev = self.next = None


def _entries(ops):
    """A doubly linked list (with a head sentinel) of call and return entries. At
    equal times calls come first: operations that merely touch count as concurrent,
    which can only allow more orders, never fewer."""
    es = []
    for i, op in enumerate(ops):
        c = _Entry(op, i, True, op.call)
        r = _Entry(op, i, False, INF if op.ret is None else op.ret)
        c.match, r.match = r, c
        es += [c, r]
    es.sort(key=lambda e: (e.time, 0 if e.is_call else 1, e.idx))
    head = _Entry(None, -1, False, -INF)
    prev = head
    for e in es:
        prev.next, e.prev = e, prev
        prev = e
    return head


def _lift(e):
    e.prev.next = e.next
    e.next.prev = e.prev
    m = e.match
    m.prev.next = m.next
    if m.next is not None:
        m.next.prev = m.prev


def _unlift(e):
    m = e.match
    m.prev.next = m
    if m.next is not None:
        m.next.prev = m
    e.prev.next = e
    e.next.prev = e


def check(ops, model, max_steps=2_000_000):
    """Searches for a linearization of ops under model; returns a Result."""
    head = _entries(ops)
    state = model.init()
    linearized = 0
    cache = set()
    stack = []  # (call entry, state before it, alternatives not tried yet)
    best = ([], None)
    steps = 0
    entry = head.next

    def advance(e, alts):
        nonlocal state, linearized, entry
        while alts:
            s2 = alts.pop(0)
            lin2 = linearized | (1 << e.idx)
            if (lin2, s2) in cache:
                continue
            cache.add((lin2, s2))
            stack.append((e, state, alts))
            state, linearized = s2, lin2
            _lift(e)
            entry = head.next
            return True
        return False

    while head.next is not None:
        steps += 1
        if steps > max_steps:
            return Result(None, steps)
        if entry.is_call:
            if not advance(entry, list(model.step(state, entry.op))):
                entry = entry.next
            continue
        # A return entry whose call is not linearized: undo the last choice.
        if len(stack) >= len(best[0]):
            best = ([s[0].op for s in stack], entry.op)
        if not stack:
            return Result(False, steps, best[0], best[1])
        e, state, alts = stack.pop()
        linearized &= ~(1 << e.idx)
        _unlift(e)
        if not advance(e, alts):
            entry = e.next
    return Result(True, steps)


# ---- baton's lock and lease model ------------------------------------------------

class LockModel:
    """One lock and the leases that use it (DESIGN.md, "Leases and locks").

    State: (holder lease or 0, holder's token or None when unknown, highest token
    granted so far, frozenset of leases known to have ended).

    Leases expire on the leader's clock, which the history does not show, so an
    expiry may happen at any moment. The model expires a lease lazily, exactly when
    an operation needs it gone (an EEXPIRED answer, or another lease taking the
    lock); expiring later than that never forbids more, so nothing is lost, and the
    model stays small. What it catches: a lease used successfully after it ended
    (two holders: the first one's lease had to end for the second to get the lock),
    tokens that do not rise, reads (check, inspect) that contradict the holder,
    try-locks refused on a free lock, releases by a lease that did not hold.
    Retried calls make some answers ambiguous (baton.h): a release answered
    ENOTFOUND or ELOCKED may have released in an earlier attempt, so both are
    allowed; unknown outcomes may or may not have taken effect."""

    def __init__(self, ops=()):
        # The last operation (by call time) on each lease: once it is linearized the
        # lease is forgotten, so that states stay small in long histories. Forgetting
        # that a lease ended can only allow more (a late unknown operation on it), so
        # it never makes a good history look bad.
        self.last = {}
        for op in ops:
            if op.lease and (op.lease not in self.last or op.call >= self.last[op.lease].call):
                self.last[op.lease] = op

    def init(self):
        return (0, None, 0, frozenset())

    @staticmethod
    def _kill(s, lease):
        holder, tok, maxtok, dead = s
        dead = dead | {lease}
        if holder == lease:
            return (0, None, maxtok, dead)
        return (holder, tok, maxtok, dead)

    @staticmethod
    def _free(s):
        return (0, None, s[2], s[3])

    def step(self, s, op):
        fn = getattr(self, "_" + op.f, None)
        if fn is None:
            return [s]
        out = fn(s, op)
        if op.lease and self.last.get(op.lease) is op:
            out = _uniq([(h, t, m, d - {op.lease}) if op.lease in d else (h, t, m, d)
                         for h, t, m, d in out])
        return out

    def _grant(self, s, op):
        return [s] if op.lease not in s[3] else []

    def _keepalive(self, s, op):
        if op.status == "ok":
            return [s] if op.lease not in s[3] else []
        if op.err == "EEXPIRED":
            return [self._kill(s, op.lease)]
        return [s]

    def _revoke(self, s, op):
        alive = op.lease not in s[3]
        if op.status == "ok":
            return [self._kill(s, op.lease)] if alive else []
        if op.err == "EEXPIRED":
            return [self._kill(s, op.lease)]
        if op.status == "info":
            return _uniq([s, self._kill(s, op.lease)])
        return [s]

    def _take(self, s, lease, token):
        """The lease becomes the holder with token (None: unknown)."""
        holder, tok, maxtok, dead = s
        if holder == lease:
            if token is None or tok == token:
                return [s]
            if tok is None and token > maxtok:
                return [(holder, token, token, dead)]
            return []
        if holder != 0:
            s = self._kill(s, holder)  # the holder's lease ran out first
            holder, tok, maxtok, dead = s
        if token is None:
            return [(lease, None, maxtok, dead)]
        if token <= maxtok:
            return []
        return [(lease, token, token, dead)]

    def _acquire(self, s, op):
        alive = op.lease not in s[3]
        if op.status == "ok":
            return self._take(s, op.lease, op.token) if alive else []
        if op.status == "info":
            return _uniq([s] + (self._take(s, op.lease, None) if alive else []))
        if op.err == "EEXPIRED":
            return [self._kill(s, op.lease)]
        if op.err == "ELOCKED":
            if not alive:
                return []
            if op.wait:
                return [s]  # not granted within wait_ms
            return [s] if s[0] not in (0, op.lease) else []
        return [s]

    def _release(self, s, op):
        alive = op.lease not in s[3]
        mine = s[0] == op.lease
        if op.status == "ok":
            if not alive:
                return []
            if mine:
                return [self._free(s)]
            return [s] if op.cancel_ok else []
        if op.status == "info":
            return _uniq([s] + ([self._free(s)] if mine else []))
        if op.err in ("ENOTFOUND", "ELOCKED"):
            if not alive:
                return []
            return [self._free(s)] if mine else [s]
        if op.err == "EEXPIRED":
            return [self._kill(s, op.lease)]
        return [s]

    def _learn_token(self, s, token):
        """s with the holder's unknown token learnt to be token; None if impossible."""
        holder, tok, maxtok, dead = s
        if tok == token:
            return s
        if tok is None and token > maxtok:
            return (holder, token, token, dead)
        return None

    def _check(self, s, op):
        if op.status != "ok":
            return [s]
        holder = s[0]
        if op.current:
            s2 = self._learn_token(s, op.token) if holder != 0 else None
            return [s2] if s2 is not None else []
        out = []
        if holder == 0 or s[1] != op.token:
            out.append(s)
        if holder != 0:
            out.append(self._kill(s, holder))
        return _uniq(out)

    def _inspect(self, s, op):
        if op.status != "ok":
            return [s]
        holder = s[0]
        if op.held:
            if holder != op.holder:
                return []
            s2 = self._learn_token(s, op.token)
            return [s2] if s2 is not None else []
        return [s] if holder == 0 else [self._kill(s, holder)]


def _uniq(states):
    out = []
    for s in states:
        if s not in out:
            out.append(s)
    return out


def partition(ops):
    """Splits a lock/lease history into independent objects: each lock with every
    operation on a lease that acquired or released it, and each lease that touched
    no lock on its own. A lease used with two locks joins them into one object."""
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        parent[find(a)] = find(b)

    for op in ops:
        if op.lease:
            find(("lease", op.lease))
        if op.lock is not None:
            find(("lock", op.lock))
            if op.lease:
                union(("lease", op.lease), ("lock", op.lock))
    groups = {}
    for op in ops:
        key = ("lock", op.lock) if op.lock is not None else ("lease", op.lease)
        groups.setdefault(find(key), []).append(op)
    return groups


def prepare(ops):
    """Drops what cannot constrain a linearization: reads and keepalives whose
    outcome is unknown, grants that failed or timed out (the lease id is unknown)."""
    keep = []
    for op in ops:
        if op.status == "info" and op.f in ("check", "inspect", "keepalive", "grant"):
            continue
        if op.f == "grant" and op.status != "ok":
            continue
        keep.append(op)
    return keep
