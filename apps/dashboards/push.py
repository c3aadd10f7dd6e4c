"""Hand messages to the channel layer from synchronous code (event handlers after commit).

With the Redis layer a process keeps one daemon thread running an event loop, and
`push` only queues the message there: the handler's thread never waits for Redis, the
layer's connection pool lives as long as the process (`async_to_sync` would make a new
loop, and with it a new Redis connection, per message), and messages leave in the order
they were pushed. The thread is flushed at exit, so a short-lived process (a management
command, a Celery task in a test) does not drop what it pushed.

The in-memory layer (the embedded default) lives in the serving process's own loop, so
there `push` runs `group_send` on that loop with `async_to_sync` (from a request's thread
inside the ASGI server that is the server's loop).

A lost push (a process killed before its thread ran) is not lost for the pages: the event
is in the outbox and the page's catch-up fetches it on its next reconnect.
"""

import asyncio
import atexit
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)


class _LoopPusher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._pid: int | None = None
        self._pending = 0
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, group: str, message: dict) -> None:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._start()
            self._pending += 1
            self._idle.clear()
            loop, queue = self._loop, self._queue
        loop.call_soon_threadsafe(queue.put_nowait, (group, message))

    def flush(self, timeout: float = 5.0) -> bool:
        return self._idle.wait(timeout)

    def _start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop, self._queue = loop, asyncio.Queue()
            ready.set()
            loop.run_until_complete(self._drain())

        self._pid = os.getpid()
        self._pending = 0
        threading.Thread(target=run, name="pam-dashboards-push", daemon=True).start()
        ready.wait()

    async def _drain(self) -> None:
        layer = get_channel_layer()
        while True:
            group, message = await self._queue.get()
            try:
                await layer.group_send(group, message)
            except Exception:  # noqa: BLE001 - a live push is best effort; pages catch up from the outbox
                logger.exception("dashboards: could not push to %s", group)
            with self._lock:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()


_pusher = _LoopPusher()
atexit.register(_pusher.flush, 2.0)


def push(group: str, message: dict) -> None:
    """Send `message` (a layer message: {"type": ..., ...}) to everyone in `group`."""
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # noqa: BLE001 - best effort, as above
            logger.exception("dashboards: could not push to %s", group)
        return
    _pusher.submit(group, message)


def push_flush(timeout: float = 5.0) -> bool:
    """Wait until everything pushed from this process has been handed to the layer."""
    return _pusher.flush(timeout)
