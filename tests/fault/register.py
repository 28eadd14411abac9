"""The fenced register: a resource that accepts a write only with a fencing token at
least as high as the highest it has accepted for that lock (Chubby's sequencers,
Kleppmann's fencing tokens), and counts what it refuses.

Protocol, one line each way over TCP on 127.0.0.1:
    W <lock> <token> <client> <hold> <seq>   ->   OK <highest>  |  REFUSED <highest>
Every write is logged as
    <t_ns> <lock> <token> <client> <hold> <seq> accepted|refused <highest before>
t_ns is CLOCK_MONOTONIC when the write arrived. With check=False (a planted bug)
every write is accepted, and the log still tells what a correct register would have
done (highest before).
"""
import asyncio
import time


class Register:
    def __init__(self, log_path, check=True):
        self.check = check
        self.highest = {}
        self.accepted = 0
        self.refused = 0
        self._log = open(log_path, "w")
        self._changed = asyncio.Condition()
        self._server = None
        self.port = None

    async def start(self, port):
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = port

    async def close(self):
        if self._server is not None:
            self._server.close()
        self._log.close()

    def _apply(self, lock, token):
        before = self.highest.get(lock, 0)
        ok = token >= before or not self.check
        if ok:
            self.highest[lock] = max(before, token)
            self.accepted += 1
        else:
            self.refused += 1
        return ok, before

    async def _serve(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                parts = line.decode(errors="replace").split()
                if len(parts) != 6 or parts[0] != "W" or not parts[2].isdigit():
                    writer.write(b"ERR\n")
                    continue
                _, lock, token, client, hold, seq = parts
                t = time.monotonic_ns()
                ok, before = self._apply(lock, int(token))
                self._log.write("%d %s %s %s %s %s %s %d\n" % (
                    t, lock, token, client, hold, seq, "accepted" if ok else "refused", before))
                self._log.flush()
                writer.write(b"%s %d\n" % (b"OK" if ok else b"REFUSED", self.highest.get(lock, 0)))
                async with self._changed:
                    self._changed.notify_all()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def wait_above(self, lock, token, timeout):
        """True once a token above token was accepted for lock, False after timeout s."""
        async def above():
            async with self._changed:
                await self._changed.wait_for(lambda: self.highest.get(lock, 0) > token)
        try:
            await asyncio.wait_for(above(), timeout)
            return True
        except asyncio.TimeoutError:
            return False
