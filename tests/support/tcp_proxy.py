"""Several instances of a service behind one address, as a load balancer puts them: a TCP proxy on
loopback that hands each new connection to the next backend in turn."""

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Sequence

from tests.support.processes import free_port


class RoundRobinProxy:
    def __init__(self, backends: Sequence[int]) -> None:
        self.port = free_port()
        self._next = itertools.cycle(backends)
        self.connections: Counter[int] = Counter()  # backend port -> connections handed to it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["RoundRobinProxy"]:
        server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        async with server:
            yield self

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        backend = next(self._next)
        self.connections[backend] += 1
        try:
            backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", backend)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, backend_writer), _pipe(backend_reader, client_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
