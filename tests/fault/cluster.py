"""The processes of a fault run: batond nodes, the disk node's private tmpfs, and the
bookkeeping that kills every one of them (by pid, never by name) when the run ends.

Every child is started through `setpriv --pdeathsig KILL` (or sets it itself, as
fault_client does), so that nothing outlives the harness even if the harness is
killed without a chance to clean up. The disk node's tmpfs is mounted inside a
private mount namespace held by a `sleep` process: when that process dies, the
kernel unmounts the tmpfs, so no mount is ever left behind either.
"""
import asyncio
import os
import shutil
import signal
import time


class Procs:
    """Every process the harness started, for the final cleanup."""

    def __init__(self):
        self.all = []

    async def spawn(self, argv, **kw):
        pdeath = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
        proc = await asyncio.create_subprocess_exec(*(pdeath + list(argv)), **kw)
        self.all.append(proc)
        return proc

    async def kill_all(self):
        for p in self.all:
            if p.returncode is None:
                try:
                    p.send_signal(signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.all:
            try:
                await asyncio.wait_for(p.wait(), 10)
            except asyncio.TimeoutError:
                pass


def proc_state(pid):
    """The one-letter state of pid from /proc ('T' stopped, 'Z' zombie), '' if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return data[data.rindex(")") + 2]
    except (OSError, ValueError, IndexError):
        return ""


async def diagnose(pid):
    """What a process that does not exit is doing: its threads' states and kernel wait
    channels, and their stacks from gdb when gdb is there. For failure reports."""
    out = ["pid %d state %s" % (pid, proc_state(pid) or "gone")]
    try:
        with open("/proc/%d/status" % pid) as f:
            # A tracer here at exit is ASan's LeakSanitizer, waiting for its attach stop.
            out += ["  " + l.strip() for l in f if l.startswith("TracerPid:")]
    except OSError:
        pass
    try:
        for tid in sorted(os.listdir("/proc/%d/task" % pid), key=int):
            base = "/proc/%d/task/%s/" % (pid, tid)
            try:
                with open(base + "wchan") as f:
                    wchan = f.read().strip()
            except OSError:
                wchan = "?"
            out.append("  thread %s state %s wchan %s" % (tid, proc_state(int(tid)), wchan))
    except OSError:
        pass
    if shutil.which("gdb"):
        try:
            gdb = await asyncio.create_subprocess_exec(
                "gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt",
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT)
            text, _ = await asyncio.wait_for(gdb.communicate(), 30)
            out += [l for l in text.decode(errors="replace").splitlines()
                    if l.startswith(("#", "Thread"))]
        except (asyncio.TimeoutError, OSError):
            out.append("  (gdb did not answer)")
    return out


class Disk:
    """A tmpfs of size_mb mounted at mount_dir in a private mount namespace. The disk
    node runs inside that namespace (nsenter); the harness reaches the tmpfs through
    /proc/<holder>/root. available is False (and why says why) when the machine does
    not allow it (mounting needs root or CAP_SYS_ADMIN)."""

    def __init__(self, procs, mount_dir, size_mb):
        self.procs, self.mount_dir, self.size_mb = procs, mount_dir, size_mb
        self.holder = None
        self.available = False
        self.why = ""

    async def setup(self):
        for tool in ("unshare", "nsenter", "mount"):
            if shutil.which(tool) is None:
                self.why = "%s not found" % tool
                return
        os.makedirs(self.mount_dir, exist_ok=True)
        script = ('mount -t tmpfs -o size=%dm tmpfs "%s" && echo mounted && exec sleep 1000000'
                  % (self.size_mb, self.mount_dir))
        self.holder = await self.procs.spawn(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script],
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        try:
            line = await asyncio.wait_for(self.holder.stdout.readline(), 10)
        except asyncio.TimeoutError:
            line = b""
        if line.strip() != b"mounted":
            err = b""
            if self.holder.returncode is not None or line == b"":
                try:
                    err = await asyncio.wait_for(self.holder.stderr.read(), 2)
                except asyncio.TimeoutError:
                    pass
            self.why = ("cannot mount a tmpfs in a private mount namespace (needs root or "
                        "CAP_SYS_ADMIN): %s" % err.decode(errors="replace").strip())
            if self.holder.returncode is None:
                self.holder.kill()
            return
        self.available = True

    def wrap(self, argv):
        """argv run inside the namespace that sees the tmpfs."""
        return ["nsenter", "--target", str(self.holder.pid), "--mount", "--"] + list(argv)

    def path(self, rel=""):
        """A path in the tmpfs as the harness sees it."""
        return "/proc/%d/root%s/%s" % (self.holder.pid, self.mount_dir, rel)

    def fill(self):
        """Fills the tmpfs to the last byte; returns the bytes written."""
        written = 0
        with open(self.path("filler"), "wb", buffering=0) as f:
            for chunk in (1 << 20, 4096, 512, 1):
                block = b"\0" * chunk
                try:
                    while True:
                        written += f.write(block)
                except OSError:
                    pass
        return written

    def unfill(self):
        try:
            os.unlink(self.path("filler"))
        except OSError:
            pass


class Node:
    """One batond. log is appended to across restarts."""

    def __init__(self, k, procs, batond, args, log_path, disk=None):
        self.k, self.procs, self.batond, self.args = k, procs, batond, args
        self.log_path, self.disk = log_path, disk
        self.proc = None
        self.expect_exit = False
        self.paused = False
        self.exits = []  # (t_ns, returncode, expected)
        self.hang = []   # what it was doing when it would not stop (diagnose())
        self._watch = None

    @property
    def running(self):
        return self.proc is not None and self.proc.returncode is None

    async def start(self):
        if self.running:
            return
        argv = [self.batond] + self.args
        if self.disk is not None:
            argv = self.disk.wrap(argv)
        with open(self.log_path, "a") as log:
            log.write("---- %s harness: starting node %d\n" %
                      (time.strftime("%H:%M:%S"), self.k))
            log.flush()
            self.proc = await self.procs.spawn(argv, stdin=asyncio.subprocess.DEVNULL,
                                               stdout=log, stderr=log)
        self.expect_exit = False
        self.paused = False
        self._watch = asyncio.ensure_future(self._watch_exit(self.proc))

    async def _watch_exit(self, proc):
        rc = await proc.wait()
        self.exits.append((time.monotonic_ns(), rc, self.expect_exit))

    def signal(self, sig):
        if self.running:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    async def kill(self):
        if not self.running:
            return
        self.expect_exit = True
        self.signal(signal.SIGKILL)
        await self.proc.wait()
        self.paused = False

    def pause(self):
        if self.running and not self.paused:
            self.signal(signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.paused:
            self.signal(signal.SIGCONT)
            self.paused = False

    async def stop(self, timeout=10):
        """SIGTERM (continuing it if paused); the exit status, or None if it hung."""
        if not self.running:
            return self.proc.returncode if self.proc else None
        self.expect_exit = True
        # Continue first, never after: SIGCONT discards a pending SIGSTOP, including the
        # one ptrace attach sends, and ASan's LeakSanitizer attaches as the process exits.
        self.resume()
        self.signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            self.hang = await diagnose(self.proc.pid)
            self.signal(signal.SIGKILL)
            await self.proc.wait()
            return None

    def log_tail(self, n=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.readlines()[-n:]
        except OSError:
            return []
