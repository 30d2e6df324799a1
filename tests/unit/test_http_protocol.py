"""shared/http_protocol.py: what an app writes while answering leaves in one write, in order, and a
connection closing sends what was written before it."""

import asyncio
from typing import Any

from shared.http_protocol import _GatheringTransport


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.reading = True

    def write(self, data: Any) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000)}.get(name, default)


async def test_an_answers_head_and_body_leave_in_one_write_in_order() -> None:
    socket = RecordingTransport()
    gathering = _GatheringTransport(socket)
    gathering.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
    gathering.write(memoryview(b"{}"))
    assert socket.writes == []
    await asyncio.sleep(0)
    assert socket.writes == [b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}"]
    gathering.write(b"next answer")
    await asyncio.sleep(0)
    assert socket.writes[1:] == [b"next answer"]


async def test_closing_sends_what_was_written_first_and_the_rest_is_uvicorns() -> None:
    socket = RecordingTransport()
    gathering = _GatheringTransport(socket)
    gathering.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    gathering.close()
    assert socket.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"]
    assert socket.closed
    assert gathering.is_closing()
    gathering.pause_reading()
    assert not socket.reading
    assert gathering.get_extra_info("peername") == ("127.0.0.1", 5000)
    await asyncio.sleep(0)  # the flush scheduled by the write finds nothing left to send
    assert len(socket.writes) == 1
