#!/usr/bin/env python3
"""baton's fault-injection run: five real batond processes behind fault-injecting
proxies, a seeded nemesis, libbaton workloads, and checkers over what they recorded.

    fault.py --short [--seed S]            CI: every fault kind once, about 1.5 minutes
    fault.py --minutes M --seed S          soak: random faults for M minutes
    fault.py --short --plant register-no-check --expect-fail fencing
                                           prove a checker catches a planted bug

The run ends with one line per checker and "N passed, M failed"; the exit status is
0 only if every checker passed (with --expect-fail: only if each named checker
failed). Every failure prints the seed, the nemesis schedule and what it did, and
the command that replays the schedule; the run's directory (logs, histories) is
kept. See README.md in this directory.
"""
import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the source tree clean

import checkers  # noqa: E402
import history  # noqa: E402
import nemesis  # noqa: E402
from cluster import Disk, Node, Procs, diagnose, proc_state  # noqa: E402
from proxy import Network  # noqa: E402
from register import Register  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
N = 5
DISK_NODE = 5
PLANTS = ("register-no-check", "ignore-lease", "lease-half-ttl")
# lease-half-ttl is planted in the daemon: --batond must be the build that carries it
# (tests/fault/batond_lease_half_ttl), and only a run that plants it may use that build.
PLANTED_DAEMON = {"lease-half-ttl": "batond_lease_half_ttl"}


class Ports:
    """Node k serves clients on base+k and peers on base+10+k; node i reaches node j
    at proxy port base+20+5(i-1)+(j-1); the register listens on base."""

    def __init__(self, base):
        self.base = base

    def client(self, k):
        return self.base + k

    def peer(self, k):
        return self.base + 10 + k

    def proxy(self, i, j):
        return self.base + 20 + N * (i - 1) + (j - 1)

    def all(self):
        return ([self.base] + [self.client(k) for k in range(1, N + 1)] +
                [self.peer(k) for k in range(1, N + 1)] +
                [self.proxy(i, j) for i in range(1, N + 1) for j in range(1, N + 1) if i != j])


def free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def port_window():
    """Ports that neither the kernel hands out for outgoing connections (a restarted
    node must get its ports back) nor the integration tests use (10000-32000): above
    the ephemeral range when there is room, else below it."""
    lo, hi = 32768, 60999
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        pass
    if 65535 - (hi + 1) >= 1000:
        return hi + 1, 65535 - 50
    return max(1024, lo - 12000), lo - 50


def pick_ports():
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    lo, hi = port_window()
    for _ in range(200):
        p = Ports(rng.randrange(lo, hi, 50))
        if all(free(x) for x in p.all()):
            return p
    raise SystemExit("fault.py: no free port range found in %d..%d" % (lo, hi))


class Client:
    """A workload process (fault_client)."""

    def __init__(self, name, kind, argv, lock=None, pausable=False):
        self.name, self.kind, self.argv, self.lock = name, kind, argv, lock
        self.pausable = pausable
        self.proc = None
        self.paused = False
        self.watcher = None


class Run:
    def __init__(self, args):
        self.args = args
        self.t0 = time.monotonic_ns()
        self.procs = Procs()
        self.rng = random.Random(args.seed * 7919 + 1)
        self.election_ms, self.heartbeat_ms, self.ttl_ms = 500, 100, 1500
        self.view = {}         # node -> (t, role, term) from the monitor
        self.clients = []
        self.disk_results = []
        self.pauses = []       # client pauses: (client, hold, t_stop, t_cont, newer_seen)
        self.executed = []     # what the nemesis did, with times
        self.heal_t = None
        self.dir = None
        self.disk_skip = ""

    # ---- output

    def log(self, msg):
        print("[%7.1fs] %s" % ((time.monotonic_ns() - self.t0) / 1e9, msg), flush=True)

    def event(self, msg):
        t = time.monotonic_ns()
        self.executed.append((t, msg))
        with open(os.path.join(self.dir, "nemesis.log"), "a") as f:
            f.write("%d %s\n" % (t, msg))
        self.log(msg)

    # ---- setup

    async def setup(self):
        a = self.args
        self.dir = tempfile.mkdtemp(prefix="baton-fault-", dir=a.dir)
        os.makedirs(os.path.join(self.dir, "hist"))
        self.ports = pick_ports()
        self.log("run dir %s, ports %d..%d, seed %d" % (self.dir, self.ports.base,
                                                        self.ports.base + 44, a.seed))
        self.register = Register(os.path.join(self.dir, "register.log"),
                                 check="register-no-check" not in a.plant)
        await self.register.start(self.ports.base)
        self.net = Network(N, self.ports.proxy, self.ports.peer, a.seed)
        await self.net.start()
        self.disk = None
        if not a.no_disk:
            d = Disk(self.procs, os.path.join(self.dir, "node%d" % DISK_NODE, "disk"), 64)
            await d.setup()
            if d.available:
                self.disk = d
            else:
                self.disk_skip = d.why
                self.log("disk faults skipped: %s" % d.why)
        else:
            self.disk_skip = "--no-disk"
        self.nodes = {k: self._node(k) for k in range(1, N + 1)}
        for node in self.nodes.values():
            await node.start()

    def _node(self, k):
        ndir = os.path.join(self.dir, "node%d" % k)
        os.makedirs(ndir, exist_ok=True)
        disk = self.disk if k == DISK_NODE else None
        data = os.path.join(disk.mount_dir, "data") if disk else os.path.join(ndir, "data")
        members = []
        for j in range(1, N + 1):
            peer = self.ports.peer(j) if j == k else self.ports.proxy(k, j)
            members.append("%d=127.0.0.1:%d/127.0.0.1:%d" % (j, peer, self.ports.client(j)))
        args = ["--id", str(k), "--data-dir", data,
                "--listen-peer", "127.0.0.1:%d" % self.ports.peer(k),
                "--listen-client", "127.0.0.1:%d" % self.ports.client(k),
                "--initial-cluster", ",".join(members),
                "--cluster-token", "fault-%d" % self.args.seed,
                "--heartbeat-ms", str(self.heartbeat_ms), "--election-ms", str(self.election_ms)]
        return Node(k, self.procs, self.args.batond, args, os.path.join(ndir, "batond.log"), disk)

    def endpoints(self, nodes=None):
        return ",".join("127.0.0.1:%d" % self.ports.client(k) for k in (nodes or range(1, N + 1)))

    # ---- the monitor

    async def start_monitor(self):
        self.monitor_log = open(os.path.join(self.dir, "monitor.log"), "w")
        self.monitor = await self.procs.spawn(
            [self.args.client, "monitor", "--endpoints", self.endpoints(), "--interval", "100"],
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE)
        self.monitor_task = asyncio.ensure_future(self._read_monitor())

    async def _read_monitor(self):
        while True:
            line = await self.monitor.stdout.readline()
            if not line:
                return
            text = line.decode(errors="replace")
            self.monitor_log.write(text)
            rec = history.parse_line(text)
            if rec is not None:
                t, node, ev, kv = rec
                self.view[int(node)] = (t, kv.get("role") if ev == "up" else None,
                                        int(kv.get("term", 0)))

    def leader(self, fresh_ms=1500):
        now = time.monotonic_ns()
        best = None
        for k, (t, role, term) in self.view.items():
            if role == "leader" and now - t < fresh_ms * 1_000_000:
                if best is None or term > best[1]:
                    best = (k, term)
        return best[0] if best else None

    async def wait_leader(self, timeout_s, since=None):
        """ms until some node reports leading (a report newer than since), or None."""
        start = time.monotonic_ns()
        since = since or start
        while time.monotonic_ns() - start < timeout_s * 1e9:
            for k, (t, role, term) in self.view.items():
                if role == "leader" and t > since:
                    return (time.monotonic_ns() - since) / 1e6
            await asyncio.sleep(0.05)
        return None

    async def wait_up(self, k, timeout_s):
        start = time.monotonic_ns()
        while time.monotonic_ns() - start < timeout_s * 1e9:
            t, role, _ = self.view.get(k, (0, None, 0))
            if role is not None and t > start:
                return True
            await asyncio.sleep(0.05)
        return False

    # ---- workloads

    def plan_clients(self):
        a = self.args
        base = [a.client]
        n = 0
        for lock in ("lock-a", "lock-b"):
            for i in range(3):
                n += 1
                name = "%s-%d" % (lock, i)
                argv = base + ["lock", "--lock", lock, "--register", str(self.ports.base),
                               "--ttl", str(self.ttl_ms), "--wait", "3000"]
                pausable = i == 0
                if pausable:
                    argv += ["--pause-first", "2", "--pause-every", "4"]
                if i == 1 and "ignore-lease" in a.plant:
                    argv += ["--plant", "ignore-lease"]
                self.clients.append(Client(name, "lock", argv, lock, pausable))
        for i in range(2):
            self.clients.append(Client("lease-%d" % i, "lease",
                                       base + ["lease", "--ttl", str(2 * self.election_ms)]))
        for i in range(2):
            self.clients.append(Client("counter-%d" % i, "counter",
                                       base + ["counter", "--timeout", "1000"]))

    async def start_clients(self):
        for i, c in enumerate(self.clients):
            argv = c.argv + ["--endpoints", self.endpoints(), "--client", c.name,
                             "--history", os.path.join(self.dir, "hist", c.name + ".hist"),
                             "--seed", str(self.args.seed * 100 + i)]
            err = open(os.path.join(self.dir, "hist", c.name + ".err"), "w")
            c.proc = await self.procs.spawn(argv, stdin=asyncio.subprocess.DEVNULL,
                                            stdout=asyncio.subprocess.PIPE, stderr=err)
            c.watcher = asyncio.ensure_future(self._watch_client(c))

    async def _watch_client(self, c):
        try:
            while True:
                line = await c.proc.stdout.readline()
                if not line:
                    return
                parts = line.decode(errors="replace").split()
                if len(parts) == 4 and parts[0] == "PAUSE":
                    await self._client_paused(c, int(parts[1]), parts[2], int(parts[3]))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.log("watching client %s failed: %r" % (c.name, e))
            raise

    async def _client_paused(self, c, hold, lock, token):
        """The client stopped itself with a hold in hand: keep it stopped past its
        lease's TTL and until a newer holder has written to the register, then let
        it go on to its (now stale) write."""
        for _ in range(500):
            if proc_state(c.proc.pid) in ("T", "t", ""):
                break
            await asyncio.sleep(0.01)
        t_stop = time.monotonic_ns()
        c.paused = True
        self.event("client %s SIGSTOPped holding %s token %d (hold %d)" % (c.name, lock, token,
                                                                         hold))
        await asyncio.sleep((self.ttl_ms + 2 * self.election_ms + 300) / 1000.0)
        newer = await self.register.wait_above(lock, token, 20)
        c.proc.send_signal(signal.SIGCONT)
        c.paused = False
        t_cont = time.monotonic_ns()
        self.pauses.append((c.name, hold, t_stop, t_cont, newer))
        self.event("client %s SIGCONT after %.1fs (%s)" % (
            c.name, (t_cont - t_stop) / 1e9,
            "a newer token was written meanwhile" if newer else "NO newer token within 20s"))

    async def stop_clients(self):
        for c in self.clients:
            if c.watcher is not None:
                c.watcher.cancel()
            if c.proc.returncode is None:
                if c.paused:  # continue first: see Node.stop in cluster.py
                    c.proc.send_signal(signal.SIGCONT)
                    c.paused = False
                c.proc.send_signal(signal.SIGTERM)
        self.client_rcs = {}
        for c in self.clients:
            try:
                self.client_rcs[c.name] = await asyncio.wait_for(c.proc.wait(), 20)
            except asyncio.TimeoutError:
                lines = await diagnose(c.proc.pid)
                with open(os.path.join(self.dir, "hist", c.name + ".hang"), "w") as f:
                    f.write("\n".join(lines) + "\n")
                c.proc.kill()
                self.client_rcs[c.name] = "hung 20 s after SIGTERM (hist/%s.hang)" % c.name

    # ---- the nemesis

    def resolve(self, target):
        if target != "leader":
            return target, ""
        k = self.leader()
        if k is None:
            return self.rng.randint(1, N), " (no leader known: a random node)"
        return k, " (the leader)"

    async def heal(self):
        self.net.heal()
        for node in self.nodes.values():
            node.resume()
            if not node.running:
                await node.start()

    async def run_episode(self, ep):
        p, kind = ep.params, ep.kind
        tag = "#%d %s:" % (ep.index, kind)
        faults = p["faults"] if kind == "combo" else [(kind, p)]
        if kind == "disk" and self.disk is None:
            self.event("%s skipped (%s)" % (tag, self.disk_skip))
            await asyncio.sleep(ep.hold_s)
        elif kind == "disk":
            await self.disk_episode(ep, tag)
        else:
            for sub, sp in faults:
                await self.apply(sub, sp, tag)
            await asyncio.sleep(ep.hold_s)
            for sub, sp in faults:
                if sub == "stall":  # reset the stalled links, as a router dropping state
                    for link in sp["links"]:
                        self.net.links[tuple(link)].close_all()
        await self.heal()
        self.event("#%d healed" % ep.index)
        await asyncio.sleep(ep.quiet_s)

    async def apply(self, kind, p, tag):
        if kind in ("kill", "pause"):
            k, why = self.resolve(p["target"])
            self.event("%s %s node %d%s" % (tag, kind, k, why))
            if kind == "kill":
                await self.nodes[k].kill()
            else:
                self.nodes[k].pause()
        else:
            self.event("%s %s %s" % (tag, kind, self.cut(kind, p)))

    def cut(self, kind, p):
        """Applies a network fault; returns what it did."""
        if kind == "partition":
            self.net.partition(p["groups"], close=p["close"])
        elif kind == "isolate-leader":
            k, why = self.resolve("leader")
            self.net.partition([[k], [j for j in range(1, N + 1) if j != k]], close=p["close"])
            return "node %d%s cut off; %s" % (k, why, self.net.describe())
        elif kind == "bridge":
            a, b = p["sides"]
            for i in a:
                for j in b:
                    self.net.cut(i, j)
                    self.net.cut(j, i)
        elif kind == "one-way":
            k, why = self.resolve(p["target"])
            for j in range(1, N + 1):
                if j != k:
                    if p["direction"] == "out":
                        self.net.cut(k, j)
                    else:
                        self.net.cut(j, k)
            return "node %d%s %s; %s" % (k, why, "cannot send" if p["direction"] == "out"
                                         else "cannot hear", self.net.describe())
        elif kind == "slow":
            for i, j in p["links"]:
                self.net.links[(i, j)].set("ok", p["delay_ms"], p["jitter_ms"], p["loss"])
        elif kind == "stall":
            for i, j in p["links"]:
                self.net.links[(i, j)].set("stall")
        return self.net.describe()

    async def disk_episode(self, ep, tag):
        node = self.nodes[DISK_NODE]
        res = {"index": ep.index, "name": "disk-%d" % ep.index, "acked": 0, "unknown": 0}
        self.disk_results.append(res)
        if not node.running:
            await node.start()
            await self.wait_up(DISK_NODE, 15)
        log_at = os.path.getsize(node.log_path)
        node.expect_exit = True
        written = await asyncio.get_running_loop().run_in_executor(None, self.disk.fill)
        t_fill = time.monotonic_ns()
        self.event("%s node %d's tmpfs filled (%d bytes written)" % (tag, DISK_NODE, written))
        burst = await self.procs.spawn(
            [self.args.client, "burst", "--endpoints", self.endpoints([DISK_NODE]),
             "--name", res["name"], "--count", "100000", "--timeout", "2000"],
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE)
        try:
            rc = await asyncio.wait_for(node.proc.wait(), 25)
        except asyncio.TimeoutError:
            rc = None
        res["rc"], res["stop_ms"] = rc, (time.monotonic_ns() - t_fill) / 1e6
        try:
            out, _ = await asyncio.wait_for(burst.communicate(), 15)
        except asyncio.TimeoutError:
            burst.kill()
            out, _ = await burst.communicate()
        kv = dict(p.split("=", 1) for p in out.decode(errors="replace").split() if "=" in p)
        res["acked"], res["unknown"] = int(kv.get("acked", 0)), int(kv.get("unknown", 0))
        res["burst"] = out.decode(errors="replace").strip()
        with open(node.log_path, errors="replace") as f:
            f.seek(log_at)
            res["why"] = [l.strip() for l in f if "cannot persist" in l]
        self.event("%s node %d %s after %.0fms; burst: %s; log: %s" % (
            tag, DISK_NODE, "exited %s" % rc if rc is not None else "STILL RUNNING",
            res["stop_ms"], res["burst"], res["why"][:1] or "no 'cannot persist' line"))
        if node.running:
            await node.kill()
        self.disk.unfill()
        await asyncio.sleep(max(0.0, ep.hold_s - res["stop_ms"] / 1000))
        await node.start()
        res["restarted"] = await self.wait_up(DISK_NODE, 15)

    # ---- the end

    async def recover(self):
        """After the last heal: a leader, and a lock taken, within a bound."""
        bound_ms = 20000
        t = time.monotonic_ns()
        self.heal_t = t
        leader_ms = await self.wait_leader(bound_ms / 1000, since=t)
        probe = await self.procs.spawn(
            [self.args.client, "probe", "--endpoints", self.endpoints(), "--lock", "probe",
             "--ttl", str(self.ttl_ms), "--timeout", str(bound_ms)],
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE)
        out, _ = await probe.communicate()
        text = out.decode(errors="replace").strip()
        info = {"leader_ms": leader_ms, "bound_ms": bound_ms, "probe_ms": None}
        if text.startswith("probe_ms="):
            info["probe_ms"] = (time.monotonic_ns() - t) / 1e6
        else:
            info["probe_err"] = text
        self.log("recovery: leader after %s ms, lock after %s ms" % (
            "%.0f" % leader_ms if leader_ms is not None else "-",
            "%.0f" % info["probe_ms"] if info["probe_ms"] is not None else "-"))
        return info

    async def final_counters(self, names):
        """Every node's value of each name, read until all nodes agree (30 s)."""
        final, converged = {}, False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            proc = await self.procs.spawn(
                [self.args.client, "counter-read", "--endpoints", self.endpoints(),
                 "--names", ",".join(names), "--timeout", "2000"],
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate()
            final = {}
            for line in out.decode(errors="replace").splitlines():
                k, name, v = line.split()
                final.setdefault(int(k), {})[name] = int(v) if v.isdigit() else None
            converged = len(final) == N and all(
                len({final[k].get(n) for k in final}) == 1 and final[1].get(n) is not None
                for n in names)
            if converged:
                break
            await asyncio.sleep(0.5)
        return final, converged

    async def stop_nodes(self):
        rcs = {}
        for k, node in self.nodes.items():
            rcs[k] = await node.stop()
        return rcs


# ---- checks that need the run itself -----------------------------------------------

def check_disk(run):
    if run.disk is None:
        return checkers.Check("disk-full", None, "skipped: %s" % run.disk_skip)
    if not run.disk_results:
        return checkers.Check("disk-full", None, "no disk episode in this schedule")
    bad, lines = [], []
    for r in run.disk_results:
        why = r.get("why") or [""]
        reason = why[0].rsplit(": ", 1)[-1].replace("; stopping", "") if why[0] else "-"
        lines.append("#%d: exit %s after %.0fms saying '%s', %d increments acknowledged "
                     "before" % (r["index"], r.get("rc"), r.get("stop_ms", 0), reason,
                                 r["acked"]))
        if r.get("rc") != 1:
            bad.append("#%d: node %d did not stop with exit 1 on a full disk (exit %s within "
                       "%.0fms); burst: %s" % (r["index"], DISK_NODE, r.get("rc"),
                                              r.get("stop_ms", 0), r.get("burst")))
        if not r.get("why"):
            bad.append("#%d: no 'cannot persist ... stopping' line in node %d's log" %
                       (r["index"], DISK_NODE))
        if not r.get("restarted"):
            bad.append("#%d: node %d did not come back after the disk was freed" %
                       (r["index"], DISK_NODE))
    summary = "; ".join(lines) + " (acknowledged increments are checked by counters)"
    return checkers.Check("disk-full", not bad, summary, bad)


def check_processes(run, node_rcs):
    bad = []
    for k, node in run.nodes.items():
        for t, rc, expected in node.exits:
            if not expected:
                bad.append("node %d exited on its own with %s at %.1fs; log tail:" %
                           (k, rc, (t - run.t0) / 1e9))
                bad += ["      " + l.rstrip() for l in node.log_tail()]
        if node_rcs.get(k) != 0:
            bad.append("node %d: exit status %s on SIGTERM at the end (0 expected; None: "
                       "still running 10 s later)" % (k, node_rcs.get(k)))
            bad += ["      " + l.rstrip() for l in node.log_tail(8) + node.hang[:40]]
    for name, rc in sorted(run.client_rcs.items()):
        if rc != 0:
            bad.append("client %s: exit status %s (see hist/%s.err)" % (name, rc, name))
    summary = "%d nodes, %d clients; %d unexpected exits or bad exit statuses" % (
        len(run.nodes), len(run.clients), len(bad))
    return checkers.Check("processes", not bad, summary, bad)


def check_progress(run, hist, reglog):
    holds = len(hist.holds)
    stale = sum(1 for w in hist.writes if w.stale)
    acks = sum(1 for op in hist.counter_ops if op["status"] == "ok")
    lease_ok = sum(1 for op in hist.ops if op.client.startswith("lease") and op.status == "ok")
    need = {"holds": 20, "stale writes": 1, "counter acks": 20, "lease ops": 10}
    got = {"holds": holds, "stale writes": stale, "counter acks": acks, "lease ops": lease_ok}
    bad = ["only %d %s (at least %d wanted: the run proves little)" % (got[k], k, v)
           for k, v in need.items() if got[k] < v]
    ops = len(hist.ops) + len(hist.counter_ops)
    summary = ("%d operations (%d lock holds, %d client pauses, %d stale writes, %d counter "
               "increments acknowledged, %d lease operations ok), %d register writes" %
               (ops, holds, len(run.pauses), stale, acks, lease_ok, len(reglog)))
    return checkers.Check("progress", not bad, summary, bad)


# ---- main ------------------------------------------------------------------------------

def replay_command(args):
    cmd = ["tests/fault/fault.py", "--seed", str(args.seed)]
    cmd += ["--short"] if args.short else ["--minutes", str(args.minutes)]
    if args.episodes:
        cmd += ["--episodes", str(args.episodes)]
    if args.plant:
        cmd += ["--plant", ",".join(args.plant)]
    if args.no_disk:
        cmd += ["--no-disk"]
    cmd += ["--batond", args.batond, "--client", args.client]
    return " ".join(cmd)


async def execute(run, schedule):
    a = run.args
    await run.setup()
    await run.start_monitor()
    if await run.wait_leader(30) is None:
        raise RuntimeError("no leader within 30 s of starting the cluster")
    run.plan_clients()
    await run.start_clients()
    run.log("workloads running: %s" % ", ".join(c.name for c in run.clients))
    await asyncio.sleep(3)
    t_faults = time.monotonic_ns()
    for ep in schedule:
        await run.run_episode(ep)
    await run.heal()
    run.event("last heal")
    info = await run.recover()
    await asyncio.sleep(a.tail)
    await run.stop_clients()
    names = ["ctr-%d" % k for k in range(1, N + 1)] + [r["name"] for r in run.disk_results]
    final, converged = await run.final_counters(names)
    t_end = time.monotonic_ns()
    run.monitor.send_signal(signal.SIGTERM)
    await run.monitor.wait()
    node_rcs = await run.stop_nodes()
    frames, dropped = run.net.stats()
    run.log("proxies forwarded %d frames, dropped %d" % (frames, dropped))

    hist = history.load(run.dir)
    reglog = history.load_register(os.path.join(run.dir, "register.log"))
    monitor = history.load_monitor(os.path.join(run.dir, "monitor.log"))
    info["longest"] = checkers.leaderless_windows(monitor, t_faults, run.heal_t)
    info["stalled"] = checkers.write_gaps(hist, t_faults, run.heal_t)
    extra = {r["name"]: (r["acked"], r["acked"] + r["unknown"]) for r in run.disk_results}
    return [
        checkers.mutual_exclusion(hist),
        checkers.fencing(hist, reglog),
        checkers.tokens(hist),
        checkers.linearizability(hist, a.max_steps),
        checkers.lease_timing(hist),
        checkers.counters(hist, final, extra, converged),
        checkers.recovery(info),
        check_disk(run),
        check_processes(run, node_rcs),
        check_progress(run, hist, reglog),
    ]


def report(run, schedule, checks):
    a = run.args
    print("\n== fault run: seed %d, %s, %d episodes, %.0fs, dir %s ==" % (
        a.seed, "short" if a.short else "%g minutes" % a.minutes, len(schedule),
        (time.monotonic_ns() - run.t0) / 1e9, run.dir))
    failed = [c for c in checks if c.ok is False]
    for c in failed:
        print("\n---- %s" % c.line())
        for d in c.details:
            print("  " + d)
    if failed or a.verbose:
        print("\n---- seed %d; the nemesis schedule:" % a.seed)
        for ep in schedule:
            print("  " + ep.describe())
        print("---- what it did:")
        for t, msg in run.executed:
            print("  %8.1fs %s" % ((t - run.t0) / 1e9, msg))
        print("---- replay: %s" % replay_command(a))
    print()
    for c in checks:
        print(c.line())
    passed = sum(1 for c in checks if c.ok is True)
    print("%d passed, %d failed" % (passed, len(failed)))
    return failed


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--short", action="store_true", help="every fault kind once (CI)")
    mode.add_argument("--minutes", type=float, help="random faults for this long")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--episodes", type=int, default=0, help="keep only the first N episodes")
    p.add_argument("--plant", default="", help="comma-separated planted bugs: " +
                   ", ".join(PLANTS))
    p.add_argument("--expect-fail", default="",
                   help="comma-separated checkers that must fail (planted-bug proof)")
    p.add_argument("--batond", default=None,
                   help="default build/batond, or the planted build for a daemon plant")
    p.add_argument("--client", default=os.path.join(REPO, "build", "tests", "fault",
                                                     "fault_client"))
    p.add_argument("--dir", default=None, help="where the run's directory goes ($TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep the run's directory")
    p.add_argument("--no-disk", action="store_true", help="no tmpfs, no disk faults")
    p.add_argument("--tail", type=float, default=2.0,
                   help="seconds of workload after recovery, before the end")
    p.add_argument("--max-steps", type=int, default=2_000_000,
                   help="linearizability search budget per object")
    p.add_argument("--verbose", action="store_true", help="print the schedule always")
    a = p.parse_args(argv)
    a.plant = [x for x in a.plant.split(",") if x]
    for x in a.plant:
        if x not in PLANTS:
            p.error("unknown planted bug %r (known: %s)" % (x, ", ".join(PLANTS)))
    a.expect_fail = [x for x in a.expect_fail.split(",") if x]
    daemon_plants = [x for x in a.plant if x in PLANTED_DAEMON]
    if len(daemon_plants) > 1:
        p.error("one daemon plant at a time: %s" % ", ".join(daemon_plants))
    if a.batond is None:
        a.batond = (os.path.join(REPO, "build", "tests", "fault", PLANTED_DAEMON[daemon_plants[0]])
                    if daemon_plants else os.path.join(REPO, "build", "batond"))
    a.batond, a.client = os.path.abspath(a.batond), os.path.abspath(a.client)
    for path in (a.batond, a.client):
        if not os.access(path, os.X_OK):
            print("SKIP: %s is not built" % path)
            sys.exit(77)
    with open(a.batond, "rb") as f:
        planted = b"PLANTED BUG" in f.read()
    if planted != bool(daemon_plants):
        p.error("%s %s a planted bug, but --plant %s" % (
            a.batond, "carries" if planted else "does not carry",
            "names none for the daemon" if planted else "names one"))
    return a


async def amain(a):
    run = Run(a)
    disk_node = None if a.no_disk else DISK_NODE
    schedule = nemesis.plan(a.seed, N, a.short, a.minutes or 0, a.episodes, disk_node=disk_node)
    print("seed %d, schedule:" % a.seed)
    for ep in schedule:
        print("  " + ep.describe())
    sys.stdout.flush()
    checks, crashed = None, None
    try:
        checks = await execute(run, schedule)
    except Exception as e:  # the harness itself failed: report it with the seed
        crashed = e
        import traceback
        traceback.print_exc()
    finally:
        await run.procs.kill_all()
        if hasattr(run, "net"):
            await run.net.close()
        if hasattr(run, "register"):
            await run.register.close()
    if crashed is not None:
        print("\nthe harness failed (seed %d, dir %s): %s\nreplay: %s" % (
            a.seed, run.dir, crashed, replay_command(a)))
        return 1
    failed = report(run, schedule, checks)
    if a.expect_fail:
        names = {c.name for c in failed}
        missing = [x for x in a.expect_fail if x not in names]
        if missing:
            print("planted bug NOT caught: %s passed" % ", ".join(missing))
            rc = 1
        else:
            print("planted bug caught by: %s" % ", ".join(a.expect_fail))
            rc = 0
    else:
        rc = 1 if failed else 0
    if run.dir and not a.keep and rc == 0:
        shutil.rmtree(run.dir, ignore_errors=True)
    elif run.dir:
        print("run directory kept: %s" % run.dir)
    return rc


def main(argv):
    a = parse_args(argv)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    task = loop.create_task(amain(a))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        print("interrupted")
        return 130
    finally:
        loop.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
