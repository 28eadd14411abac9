"""Fault-injecting TCP proxies on the peer links.

Node i reaches node j at proxy (i, j), which forwards to j's peer port. batond's
peer links are one-way (a node sends only on links it dialled, and reads only
from links it accepted: src/net/peers.h), so proxy (i, j) carries exactly the
messages from i to j, and cutting it cuts that direction only.

The proxy reads whole frames (4-byte big-endian length, then the message) and
decides per frame, so a fault never corrupts the byte stream (TCP would not
either): a frame is forwarded, dropped, or delayed (in order). The first frame of
every connection, the Hello, always goes through, so that links come back the
moment a fault ends. Modes of a link:
    ok     forward (after delay_ms + random jitter, losing each frame with prob. loss)
    drop   drop every frame: a cut link, messages lost
    stall  stop reading: the sender's buffers fill as if the network blackholed its
           packets; whatever it managed to send is delivered once the stall ends
close_all() closes every connection of the link (both sides), as a reset would.
"""
import asyncio
import random
import time

MAX_FRAME = 64 << 20


class Link:
    def __init__(self, src, dst, listen_port, target_port, seed):
        self.src, self.dst = src, dst
        self.listen_port, self.target_port = listen_port, target_port
        self.rng = random.Random(seed)
        self.mode, self.delay_ms, self.jitter_ms, self.loss = "ok", 0, 0, 0.0
        self.running = asyncio.Event()
        self.running.set()
        self.conns = set()
        self.frames = self.dropped = 0
        self._server = None

    async def start(self):
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.listen_port)

    def set(self, mode="ok", delay_ms=0, jitter_ms=0, loss=0.0):
        self.mode, self.delay_ms, self.jitter_ms, self.loss = mode, delay_ms, jitter_ms, loss
        if mode == "stall":
            self.running.clear()
        else:
            self.running.set()

    def describe(self):
        if self.mode != "ok":
            return self.mode
        parts = []
        if self.delay_ms or self.jitter_ms:
            parts.append("delay=%d+%dms" % (self.delay_ms, self.jitter_ms))
        if self.loss:
            parts.append("loss=%.2f" % self.loss)
        return ",".join(parts) or "ok"

    def close_all(self):
        for c in list(self.conns):
            c.close()

    async def close(self):
        if self._server is not None:
            self._server.close()
        self.running.set()
        self.close_all()

    async def _accept(self, reader, writer):
        try:
            t_reader, t_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        conn = _Conn(self, reader, writer, t_reader, t_writer)
        self.conns.add(conn)
        try:
            await conn.run()
        finally:
            self.conns.discard(conn)


class _Conn:
    def __init__(self, link, reader, writer, t_reader, t_writer):
        self.link = link
        self.reader, self.writer = reader, writer
        self.t_reader, self.t_writer = t_reader, t_writer
        self.queue = asyncio.Queue()
        self.last_at = 0.0

    def close(self):
        for w in (self.writer, self.t_writer):
            try:
                w.close()
            except Exception:
                pass

    async def run(self):
        tasks = [asyncio.ensure_future(self._forward()), asyncio.ensure_future(self._deliver()),
                 asyncio.ensure_future(self._backward())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            self.close()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _forward(self):
        link = self.link
        first = True
        try:
            while True:
                await link.running.wait()
                head = await self.reader.readexactly(4)
                n = int.from_bytes(head, "big")
                if n > MAX_FRAME:
                    return
                body = await self.reader.readexactly(n)
                await link.running.wait()
                link.frames += 1
                if not first and (link.mode == "drop" or
                                  (link.loss and link.rng.random() < link.loss)):
                    link.dropped += 1
                    continue
                first = False
                delay = link.delay_ms + (link.rng.uniform(0, link.jitter_ms)
                                         if link.jitter_ms else 0)
                at = max(time.monotonic() + delay / 1000.0, self.last_at)
                self.last_at = at
                self.queue.put_nowait((at, head + body))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return

    async def _deliver(self):
        try:
            while True:
                at, frame = await self.queue.get()
                wait = at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.t_writer.write(frame)
                await self.t_writer.drain()
        except (ConnectionError, OSError):
            return

    async def _backward(self):
        try:
            while True:
                data = await self.t_reader.read(65536)
                if not data:
                    return
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            return


class Network:
    """Every link of an n-node cluster: links[(i, j)] for i != j, 1-based."""

    def __init__(self, n, proxy_port, peer_port, seed):
        self.n = n
        self.links = {}
        for i in range(1, n + 1):
            for j in range(1, n + 1):
                if i != j:
                    self.links[(i, j)] = Link(i, j, proxy_port(i, j), peer_port(j),
                                              seed * 1000 + i * 10 + j)

    async def start(self):
        for link in self.links.values():
            await link.start()

    async def close(self):
        for link in self.links.values():
            await link.close()

    def heal(self):
        for link in self.links.values():
            link.set("ok")

    def cut(self, src, dst, mode="drop"):
        self.links[(src, dst)].set(mode)

    def partition(self, groups, mode="drop", close=False):
        """Cuts every link between nodes of different groups, both ways."""
        side = {k: gi for gi, g in enumerate(groups) for k in g}
        for (i, j), link in self.links.items():
            if side.get(i) != side.get(j):
                link.set(mode)
                if close:
                    link.close_all()

    def describe(self):
        bad = ["%d->%d:%s" % (i, j, l.describe()) for (i, j), l in sorted(self.links.items())
               if l.describe() != "ok"]
        return " ".join(bad) or "all links ok"

    def stats(self):
        frames = sum(l.frames for l in self.links.values())
        dropped = sum(l.dropped for l in self.links.values())
        return frames, dropped
