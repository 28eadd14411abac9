"""The checkers of a fault run. Each returns a Check: ok True (passed), False
(violated: details say where, with history excerpts) or None (skipped: says why)."""
import bisect

import wgl


class Check:
    def __init__(self, name, ok, summary, details=()):
        self.name, self.ok, self.summary, self.details = name, ok, summary, list(details)

    def line(self):
        tag = {True: "PASS", False: "FAIL", None: "SKIP"}[self.ok]
        return "%s %s: %s" % (tag, self.name, self.summary)


def _ms(ns):
    return "%.1fms" % (ns / 1e6)


def _t(ns):
    return "%.3fs" % (ns / 1e9)


# ---- mutual exclusion ------------------------------------------------------------

def hold_interval(h):
    """[start, end] of a hold as its holder lived it; a paused hold counts only up to
    its pause (after it, the holder is a stale holder: the fencing checker's case)."""
    end = h.end
    if h.paused:
        end = min(end, h.pause)
    return h.start, end


def mutual_exclusion(hist):
    by_lock, empty = {}, 0
    for h in hist.holds.values():
        start, end = hold_interval(h)
        if end <= start:
            empty += 1  # lost before the acquire returned: never held as far as it knew
            continue
        by_lock.setdefault(h.lock, []).append(h)
    overlaps = []
    for lock, holds in sorted(by_lock.items()):
        holds.sort(key=lambda h: h.start)
        cur = None
        for h in holds:
            start, end = hold_interval(h)
            if cur is not None and start < hold_interval(cur)[1]:
                overlaps.append((cur, h, hold_interval(cur)[1] - start))
            if cur is None or end > hold_interval(cur)[1]:
                cur = h
    paused = sum(1 for h in hist.holds.values() if h.paused)
    details = []
    for a, b, ns in overlaps[:5]:
        details.append("holds overlap by %s:\n    %r\n    %r" % (_ms(ns), a, b))
        for h in (a, b):
            details += ["      " + l.rstrip() for l in hist.lines_of(h.client, h.start, 8)]
    summary = ("%d holds on %d locks (%d paused holds counted up to their pause, %d lost "
               "before acquire returned), %d overlaps" % (len(hist.holds), len(by_lock),
                                                          paused, empty, len(overlaps)))
    return Check("mutual-exclusion", not overlaps, summary, details)


# ---- fencing tokens ----------------------------------------------------------------

def tokens(hist):
    """Per lock: a hold whose acquire returned before another's acquire was called has
    the smaller token; one token never belongs to two leases."""
    by_lock = {}
    for h in hist.holds.values():
        by_lock.setdefault(h.lock, []).append(h)
    bad = []
    for lock, holds in sorted(by_lock.items()):
        owner = {}
        for h in holds:
            if owner.setdefault(h.token, h).lease != h.lease:
                bad.append("token %d of lock %s granted to two leases: %r and %r" %
                           (h.token, lock, owner[h.token], h))
        by_start = sorted(holds, key=lambda h: h.start)
        starts = [h.start for h in by_start]
        prefix_max = []
        best = None
        for h in by_start:
            if best is None or h.token > best.token:
                best = h
            prefix_max.append(best)
        for h in holds:
            i = bisect.bisect_left(starts, h.acq_call)
            if i > 0 and prefix_max[i - 1].token >= h.token and prefix_max[i - 1] is not h:
                bad.append("token does not rise: %r was granted after %r had returned" %
                           (h, prefix_max[i - 1]))
    summary = "%d holds, %d tokens out of order or shared" % (len(hist.holds), len(bad))
    return Check("tokens", not bad, summary, bad[:10])


# ---- the fenced register -----------------------------------------------------------

def fencing(hist, reglog):
    reg = {(r[3], r[4], r[5]): r for r in reglog}
    details = []
    for r in reglog:
        t, lock, token, client, hold, seq, accepted, before = r
        if accepted and before > token:
            details.append("register accepted token %d for %s from %s hold %d after token %d "
                           "(at %s)" % (token, lock, client, hold, before, _t(t)))
    def is_stale(w):
        """Sent after the lease was lost, or arriving after the writer's deadline (a
        writer delayed between its check and the register is stale all the same)."""
        r = reg.get((w.client, w.hold, w.seq))
        late = r is not None and w.deadline is not None and r[0] >= w.deadline
        return w.stale or late

    stale = [w for w in hist.writes if is_stale(w)]
    refused = [w for w in stale if w.result == "refused"]
    unfenced = []
    for w in stale:
        r = reg.get((w.client, w.hold, w.seq))
        if w.result == "accepted" and r is not None and r[7] > w.token:
            details.append("STALE write accepted: %s hold %d token %d seq %d sent %s after its "
                           "lease was lost, over token %d" % (w.client, w.hold, w.token, w.seq,
                                                              _t(w.at), r[7]))
            details += ["      " + l.rstrip() for l in hist.lines_of(w.client, w.at, 8)]
        elif w.result == "accepted":
            unfenced.append(w)
    fresh_refused = [w for w in hist.writes if not is_stale(w) and w.result == "refused"]
    for w in fresh_refused[:5]:
        details.append("a holder that still counted its lease as live was refused: %s hold %d "
                       "token %d seq %d sent %s (deadline %s), a newer token %d existed" %
                       (w.client, w.hold, w.token, w.seq, _t(w.at),
                        _t(w.deadline) if w.deadline else "not checked", w.highest))
    errors = sum(1 for w in hist.writes if w.result not in ("accepted", "refused"))
    summary = ("%d writes (%d accepted by the register, %d refused); %d stale writes after a "
               "lost lease, %d refused, %d accepted with no newer holder yet; %d live holders "
               "refused; %d write errors" %
               (len(reglog), sum(1 for r in reglog if r[6]), sum(1 for r in reglog if not r[6]),
                len(stale), len(refused), len(unfenced), len(fresh_refused), errors))
    return Check("fencing", not details, summary, details[:40])


# ---- linearizability ---------------------------------------------------------------

def linearizability(hist, max_steps=2_000_000):
    ops = wgl.prepare(hist.ops)
    groups = wgl.partition(ops)
    failed, unknown, steps = [], [], 0
    for key, group in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        res = wgl.check(group, wgl.LockModel(group), max_steps)
        steps += res.steps
        if res.ok is None:
            unknown.append((key, len(group)))
        elif not res.ok:
            failed.append((key, group, res))
    details = []
    for key, group, res in failed[:3]:
        details.append("%s %s (%d operations) is not linearizable; longest linearizable "
                       "prefix has %d operations, ending:" % (key[0], key[1], len(group),
                                                             len(res.prefix)))
        details += ["      %r" % op for op in res.prefix[-8:]]
        details.append("    and no order lets this one in before it returns:")
        details.append("      %r" % res.stuck)
        near = [op for op in group if op.call <= (res.stuck.ret or op.call) and
                (op.ret is None or op.ret >= res.stuck.call) and op is not res.stuck]
        details.append("    concurrent with it:")
        details += ["      %r" % op for op in near[:10]]
    for key, n in unknown:
        details.append("%s %s (%d operations): search budget of %d steps ran out" %
                       (key[0], key[1], n, max_steps))
    summary = ("%d operations in %d objects (locks with their leases, lone leases), %d not "
               "linearizable, %d undecided; %d search steps" %
               (len(ops), len(groups), len(failed), len(unknown), steps))
    return Check("linearizable", not failed and not unknown, summary, details)


# ---- leases ------------------------------------------------------------------------

def lease_timing(hist):
    """No lease ends before TTL after the call of its last acknowledged grant or
    keepalive (DESIGN.md: expire never before the last acknowledged keepalive's send
    time + TTL), unless it was revoked."""
    by_lease = {}
    for op in hist.ops:
        if op.lease:
            by_lease.setdefault(op.lease, []).append(op)
    bad, expired = [], 0
    for lease, ops in by_lease.items():
        ttl = next((op.ttl for op in ops if op.f == "grant" and op.status == "ok" and op.ttl),
                   None)
        if not ttl:
            continue
        acked = sorted(op.call for op in ops
                       if op.status == "ok" and op.f in ("grant", "keepalive"))
        revokes = [op.call for op in ops if op.f == "revoke"]
        for op in ops:
            if op.err != "EEXPIRED" or op.ret is None:
                continue
            expired += 1
            if any(c < op.ret for c in revokes):
                continue
            i = bisect.bisect_left(acked, op.ret)
            if i == 0:
                continue
            bound = acked[i - 1] + ttl * 1_000_000
            if op.ret < bound:
                bad.append("lease %d (ttl %dms) reported expired %s before its last "
                           "acknowledged keepalive's call + ttl: %r" %
                           (lease, ttl, _ms(bound - op.ret), op))
    summary = "%d leases, %d EEXPIRED answers, %d too early" % (len(by_lease), expired, len(bad))
    return Check("lease-ttl", not bad, summary, bad[:10])


# ---- counters ----------------------------------------------------------------------

def counters(hist, final, extra=None, converged=True):
    """final: {node: {name: value or None}}; extra: {name: (acked, attempted)} from
    outside the history (the disk bursts)."""
    bounds = {}
    for op in hist.counter_ops:
        acked, attempted = bounds.get(op["name"], (0, 0))
        if op["status"] == "ok":
            bounds[op["name"]] = (acked + 1, attempted + 1)
        elif op["status"] == "info":
            bounds[op["name"]] = (acked, attempted + 1)
    for name, (a, t) in (extra or {}).items():
        ea, et = bounds.get(name, (0, 0))
        bounds[name] = (ea + a, et + t)
    bad = []
    if not final:
        bad.append("no final values were read")
    for name, (acked, attempted) in sorted(bounds.items()):
        values = {node: vals.get(name) for node, vals in sorted(final.items())}
        seen = set(values.values())
        if None in seen or len(seen) != 1:
            bad.append("%s: nodes disagree or do not answer: %s" % (name, values))
            continue
        v = seen.pop()
        if not acked <= v <= attempted:
            bad.append("%s = %d, outside [acknowledged %d, attempted %d]" %
                       (name, v, acked, attempted))
    total_acked = sum(a for a, _ in bounds.values())
    total_att = sum(t for _, t in bounds.values())
    summary = ("%d counters on %d nodes, %d increments acknowledged, %d attempted; %s" %
               (len(bounds), len(final), total_acked, total_att,
                "all nodes agree" if converged else "NOT CONVERGED"))
    return Check("counters", not bad and converged, summary, bad[:10])


# ---- leaders -----------------------------------------------------------------------

def leader_sightings(monitor, n, near_ns=150_000_000):
    """Times at which some node led with a majority behind it: the times of its own
    reports that it leads, for which at least a majority of the n nodes (itself
    included) named it leader in the same term in a report within near_ns (the
    monitor asks every node every 100 ms). A paused leader gives no reports, and a
    deposed one that has not noticed yet has no majority, so neither counts."""
    by_node = {}
    for rec in monitor:
        by_node.setdefault(rec[1], []).append(rec)
    times = {k: [r[0] for r in recs] for k, recs in by_node.items()}
    out = []
    for t, node, role, term, leader in monitor:
        if role != "leader":
            continue
        acks = 1
        for k, recs in by_node.items():
            if k == node:
                continue
            lo = bisect.bisect_left(times[k], t - near_ns)
            hi = bisect.bisect_right(times[k], t + near_ns)
            if any(r[3] == term and r[4] == node for r in recs[lo:hi]):
                acks += 1
        if acks > n // 2:
            out.append(t)
    return out


def leaderless_windows(monitor, t0, t1, n=5):
    """The longest stretch in [t0, t1] without a leader sighting: (ns, from, to)."""
    seen = [t for t in leader_sightings(monitor, n) if t0 <= t <= t1]
    points = [t0] + seen + [t1]
    gaps = [(b - a, a, b) for a, b in zip(points, points[1:])]
    return max(gaps) if gaps else (0, t0, t1)


def write_gaps(hist, t0, t1):
    """The longest stretch in [t0, t1] in which no lock or lease write (grant, acquire,
    release, revoke) completed successfully: (ns, from, to). Unlike the leaderless
    window it also sees a leader that leads in name only (one that cannot hear its
    followers still claims to lead, and they follow it, until check-quorum)."""
    done = sorted(op.ret for op in hist.ops if op.status == "ok" and op.ret is not None and
                  op.f in ("grant", "acquire", "release", "revoke") and t0 <= op.ret <= t1)
    points = [t0] + done + [t1]
    gaps = [(b - a, a, b) for a, b in zip(points, points[1:])]
    return max(gaps) if gaps else (0, t0, t1)


def recovery(info):
    """info: leader_ms, probe_ms, bound_ms, and over the whole fault phase longest
    (leaderless window) and stalled (longest window without a successful lock write),
    each (ns, from, to)."""
    longest, stalled = info.get("longest"), info.get("stalled")
    gap = "longest leaderless window %s (from %s)" % (_ms(longest[0]), _t(longest[1])) \
        if longest else "no leaderless window measured"
    if stalled:
        gap += ", longest without a lock write %s (from %s)" % (_ms(stalled[0]),
                                                               _t(stalled[1]))
    if info.get("probe_ms") is None:
        return Check("recovery", False, "no lock could be acquired within %dms of the last "
                     "heal (%s); %s" % (info["bound_ms"], info.get("probe_err", "?"), gap))
    ok = info["leader_ms"] is not None and info["probe_ms"] <= info["bound_ms"]
    summary = ("leader %s and a lock acquired %dms after the last heal (bound %dms); %s" %
               ("seen %dms" % info["leader_ms"] if info["leader_ms"] is not None else "NOT seen",
                info["probe_ms"], info["bound_ms"], gap))
    return Check("recovery", ok, summary)
