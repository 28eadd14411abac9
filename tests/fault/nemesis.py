"""The nemesis: a schedule of fault episodes drawn from a seed, and their execution.

An episode applies one fault, holds it for a while, heals it, and lets the cluster
settle before the next. Everything about an episode is drawn from the seed when
the schedule is made (kind, durations, which nodes, which links); only "the leader"
is resolved when the episode starts (the log of the run says which node it was).
So the same seed replays the same schedule; the processes' timing, of course,
differs from run to run.

Kinds:
  kill            SIGKILL a node (the leader, or a node drawn from the seed), restart it
  pause           SIGSTOP a node (leader or drawn), SIGCONT it (a long GC or VM pause)
  partition       split 2 | 3 (a minority and a majority), both directions cut
  isolate-leader  the leader alone on one side
  bridge          two sides of two nodes that only the fifth node, the bridge, joins
  one-way         a node's outgoing or incoming links cut in one direction only
  slow            random links delayed (with jitter) and lossy
  stall           random links blackholed (nothing read, delivered after the heal)
  disk            the disk node's tmpfs filled to the last byte (ENOSPC), then freed
                  and the node restarted
  combo           two of the kinds above (not disk) at once, e.g. a node killed while
                  the network is split
Partitions may also reset the cut links' connections (close=True), as a router
dropping state would.
"""
import random

KINDS = ["kill", "pause", "partition", "isolate-leader", "bridge", "one-way", "slow", "stall",
         "disk", "combo"]
# What a combo episode draws two of, applied at once.
COMBINABLE = ["kill", "pause", "partition", "isolate-leader", "bridge", "one-way", "slow",
              "stall"]


class Episode:
    def __init__(self, index, kind, hold_s, quiet_s, **params):
        self.index, self.kind, self.hold_s, self.quiet_s = index, kind, hold_s, quiet_s
        self.params = params

    def describe(self):
        ps = " ".join("%s=%s" % (k, _fmt(v)) for k, v in sorted(self.params.items()))
        return "#%d %s %s hold=%.1fs quiet=%.1fs" % (self.index, self.kind, ps, self.hold_s,
                                                     self.quiet_s)


def _fmt(v):
    if isinstance(v, list) and v and isinstance(v[0], tuple) and isinstance(v[0][1], dict):
        return "+".join("%s(%s)" % (k, " ".join("%s=%s" % (pk, _fmt(pv))
                                              for pk, pv in sorted(p.items())))
                        for k, p in v)
    if isinstance(v, (list, tuple)):
        return "|".join(_fmt(x) for x in v) if v and isinstance(v[0], (list, tuple)) \
            else ",".join(str(x) for x in v)
    if isinstance(v, float):
        return "%.2f" % v
    return str(v)


def _params(rng, kind, n, disk_node):
    nodes = list(range(1, n + 1))
    if kind in ("kill", "pause"):
        # The leader half the time, else any node (the leader too, by chance).
        return {"target": "leader" if rng.random() < 0.5 else rng.choice(nodes)}
    if kind == "partition":
        perm = rng.sample(nodes, n)
        return {"groups": [sorted(perm[:n // 2]), sorted(perm[n // 2:])],
                "close": rng.random() < 0.5}
    if kind == "isolate-leader":
        return {"close": rng.random() < 0.5}
    if kind == "bridge":
        perm = rng.sample(nodes, n)
        half = (n - 1) // 2
        return {"sides": [sorted(perm[:half]), sorted(perm[half:2 * half])],
                "bridge_node": perm[-1]}
    if kind == "one-way":
        return {"target": "leader" if rng.random() < 0.5 else rng.choice(nodes),
                "direction": rng.choice(["out", "in"])}
    if kind == "slow":
        links = [(i, j) for i in nodes for j in nodes if i != j and rng.random() < 0.5]
        return {"links": links, "delay_ms": rng.randint(5, 80), "jitter_ms": rng.randint(0, 60),
                "loss": round(rng.uniform(0.05, 0.3), 2)}
    if kind == "stall":
        links = rng.sample([(i, j) for i in nodes for j in nodes if i != j], n)
        return {"links": links}
    if kind == "disk":
        return {"node": disk_node}
    if kind == "combo":
        a, b = rng.sample(COMBINABLE, 2)
        return {"faults": [(a, _params(rng, a, n, disk_node)), (b, _params(rng, b, n, disk_node))]}
    raise ValueError(kind)


def plan(seed, n, short, minutes=0, episodes=0, kinds=None, disk_node=None):
    """The schedule for seed. short: every kind once, in an order drawn from the seed,
    with short holds; else random kinds until `minutes` of faults are planned.
    episodes > 0 keeps only the first that many."""
    rng = random.Random(seed)
    kinds = [k for k in (kinds or KINDS) if k != "disk" or disk_node is not None]
    out = []
    if short:
        order = rng.sample(kinds, len(kinds))
        # Short runs also hit the leader with both kill and pause.
        order += [k for k in ("kill", "pause") if k in kinds]
        first = {}
        for i, kind in enumerate(order, 1):
            p = _params(rng, kind, n, disk_node)
            if kind in ("kill", "pause"):
                if kind in first:  # the second one hits what the first did not
                    p["target"] = "leader" if first[kind] != "leader" else rng.randint(1, n)
                first[kind] = p["target"]
            out.append(Episode(i, kind, round(rng.uniform(2.0, 4.0), 1),
                               round(rng.uniform(1.5, 2.5), 1), **p))
    else:
        total, i = 0.0, 0
        while total < minutes * 60:
            i += 1
            kind = rng.choice(kinds)
            ep = Episode(i, kind, round(rng.uniform(1.5, 10.0), 1),
                         round(rng.uniform(1.0, 5.0), 1), **_params(rng, kind, n, disk_node))
            out.append(ep)
            total += ep.hold_s + ep.quiet_s
    if episodes > 0:
        out = out[:episodes]
    return out
