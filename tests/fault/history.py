"""Reading the recorded history of a fault run: client history files (fc.h describes
their lines), the fenced register's log and the monitor's log."""
import glob
import os

from wgl import Op

# Errors that are a definite answer from the cluster; any other error leaves the
# outcome unknown (baton.h: ETIMEDOUT, ECANCELED, ... "outcome unknown").
DEFINITE = {"EEXPIRED", "ELOCKED", "ENOTFOUND", "EINVAL", "EOVERFLOW"}


def status_of(err):
    if err == "OK":
        return "ok"
    return "fail" if err in DEFINITE else "info"


def parse_line(line):
    parts = line.split()
    if len(parts) < 3 or not parts[0].isdigit():
        return None
    kv = {}
    for p in parts[3:]:
        k, _, v = p.partition("=")
        kv[k] = v
    return int(parts[0]), parts[1], parts[2], kv


def _int(kv, key, default=None):
    v = kv.get(key)
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


class Hold:
    """A lock hold: from the acquire's return to the release call or the lost callback."""

    def __init__(self, client, hold, lock, lease, token, start):
        self.client, self.hold, self.lock, self.lease = client, hold, lock, lease
        self.token, self.start = token, start
        self.acq_call = start
        self.lost = self.unhold = self.pause = self.resume = None
        self.last_t = start

    @property
    def end(self):
        ends = [t for t in (self.unhold, self.lost) if t is not None]
        return min(ends) if ends else self.last_t

    @property
    def paused(self):
        return self.pause is not None

    def __repr__(self):
        def s(t):
            return "-" if t is None else "%.3f" % (t / 1e9)
        return ("%s hold %d lock=%s lease=%d token=%d [%s..%s] unhold=%s lost=%s pause=%s" %
                (self.client, self.hold, self.lock, self.lease, self.token, s(self.start),
                 s(self.end), s(self.unhold), s(self.lost), s(self.pause)))


class Write:
    def __init__(self, client, kv):
        self.client = client
        self.hold, self.seq = _int(kv, "hold"), _int(kv, "seq")
        self.lock, self.token = kv.get("lock"), _int(kv, "token")
        self.at = _int(kv, "at")
        d = _int(kv, "deadline", 0)
        self.deadline = d * 1_000_000 if d > 0 else None  # ms -> ns; None: not checked
        self.result = kv.get("result")
        self.highest = _int(kv, "highest", 0)
        self.after_resume = False

    @property
    def stale(self):
        """Sent after the writer's lease was lost as the writer itself counts it."""
        return self.after_resume or (self.deadline is not None and self.at >= self.deadline)


class History:
    def __init__(self):
        self.ops = []          # lock and lease operations (wgl.Op)
        self.counter_ops = []  # dicts: client node name status value call ret
        self.holds = {}        # (client, hold) -> Hold
        self.writes = []
        self.ends = {}         # client -> t of its last line
        self.lost = {}         # (client, lease) -> when its keeper gave the lease up
        self.files = {}        # client -> path

    def lines_of(self, client, around=None, n=6):
        """Lines of client's file, the n around time around (for failure reports)."""
        try:
            with open(self.files[client]) as f:
                lines = f.readlines()
        except (KeyError, OSError):
            return []
        if around is None:
            return lines[-n:]
        times = [int(l.split()[0]) if l.split() and l.split()[0].isdigit() else 0
                 for l in lines]
        i = next((k for k, t in enumerate(times) if t >= around), len(lines))
        return lines[max(0, i - n // 2): i + n // 2]


def _op_from(client, f, inv, done, call, ret):
    kv = dict(inv)
    if done is not None:
        kv.update(done)
    status = status_of(done.get("err")) if done is not None else "info"
    if status == "info":
        ret = None
    return Op(client, f, call, ret, status=status, err=kv.get("err"),
              lease=_int(kv, "lease") or None, lock=kv.get("lock"),
              token=_int(kv, "token") if f in ("acquire", "check", "inspect") else None,
              wait=_int(kv, "wait", 0), current=kv.get("current") == "1" if f == "check" else None,
              held=kv.get("held") == "1" if f == "inspect" else None,
              holder=_int(kv, "holder") if f == "inspect" else None,
              ttl=_int(kv, "ttl") if f == "grant" else None)


def _load_file(h, path):
    pending = {}
    with open(path, errors="replace") as f:
        lines = f.readlines()
    for raw in lines:
        rec = parse_line(raw)
        if rec is None:
            continue
        t, client, ev, kv = rec
        h.files.setdefault(client, path)
        h.ends[client] = max(h.ends.get(client, 0), t)
        if ev == "invoke":
            pending[kv.get("id")] = (t, kv, client)
        elif ev == "done":
            call, inv, _ = pending.pop(kv.get("id"), (t, {}, client))
            _record_op(h, client, kv.get("op"), inv, kv, call, t)
        else:
            _record_event(h, client, ev, kv, t)
    for call, inv, client in pending.values():  # never answered: outcome unknown
        _record_op(h, client, inv.get("op"), inv, None, call, None)
    for hold in h.holds.values():
        hold.last_t = max(hold.last_t, h.ends.get(hold.client, hold.last_t))


def _record_op(h, client, f, inv, done, call, ret):
    if f == "incr":
        kv = dict(inv)
        kv.update(done or {})
        status = status_of(kv.get("err")) if done is not None else "info"
        h.counter_ops.append({"client": client, "node": _int(kv, "node"), "name": kv.get("name"),
                              "status": status, "value": _int(kv, "value", 0), "call": call,
                              "ret": ret})
        return
    op = _op_from(client, f, inv, done, call, ret)
    op.line = "%s id=%s" % (client, inv.get("id", "?"))
    h.ops.append(op)
    if f == "acquire" and op.status == "ok":
        h._last_acquire = (client, op.lease, call)


def _record_event(h, client, ev, kv, t):
    hid = _int(kv, "hold")
    if ev == "hold":
        hold = Hold(client, hid, kv.get("lock"), _int(kv, "lease"), _int(kv, "token"), t)
        last = getattr(h, "_last_acquire", None)
        if last is not None and last[0] == client and last[1] == hold.lease:
            hold.acq_call = last[2]
        # The keeper may give the lease up while the acquire still waits in the
        # queue: then the hold is over before it starts.
        hold.lost = h.lost.get((client, hold.lease))
        h.holds[(client, hid)] = hold
        return
    if ev == "lost":
        lease = _int(kv, "lease")
        h.lost.setdefault((client, lease), t)
        for hold in h.holds.values():
            if hold.client == client and hold.lease == lease and hold.lost is None:
                hold.lost = t
        return
    hold = h.holds.get((client, hid))
    if hold is None:
        return
    if ev == "unhold":
        hold.unhold = t
    elif ev == "pause":
        hold.pause = t
    elif ev == "resume":
        hold.resume = t
    elif ev == "write":
        w = Write(client, kv)
        w.after_resume = hold.resume is not None
        h.writes.append(w)


def load(run_dir):
    h = History()
    for path in sorted(glob.glob(os.path.join(run_dir, "hist", "*.hist"))):
        _load_file(h, path)
    return h


def load_register(path):
    """[(t, lock, token, client, hold, seq, accepted, highest_before)]"""
    out = []
    try:
        with open(path) as f:
            lines = f.readlines()
        for line in lines:
            p = line.split()
            if len(p) == 8:
                out.append((int(p[0]), p[1], int(p[2]), p[3], int(p[4]), int(p[5]),
                            p[6] == "accepted", int(p[7])))
    except OSError:
        pass
    return out


def load_monitor(path):
    """[(t, node, role or None when down, term, leader)], in time order."""
    out = []
    try:
        with open(path) as f:
            lines = f.readlines()
        for line in lines:
            rec = parse_line(line)
            if rec is None:
                continue
            t, node, ev, kv = rec
            role = kv.get("role") if ev == "up" else None
            out.append((t, int(node), role, _int(kv, "term", 0), _int(kv, "leader", 0)))
    except OSError:
        pass
    out.sort()
    return out
