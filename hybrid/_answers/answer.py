"""`Answer`: one resumable answer, generating in a task of its own into its `Frames`.

The answer is the stream the supervisor admits, counts and reports; the responses that carry it to
clients only read its frames (`tail`). So a client that leaves does not stop it: the answer goes on for
`grace` seconds with no reader, time for the client to come back, and is then abandoned (its source
closed, which closes the upstream request). `stop` ends it at once: the client's explicit Stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Literal

from hybrid._answers.frames import Frames, FramesGone
from hybrid._answers.log import AnswerLog
from hybrid._errors import StreamError
from hybrid._streams.hooks import OutcomeStatus, StreamOutcome
from hybrid._streams.limits import Release
from hybrid._streams.response import close_source, source_ending
from hybrid._streams.supervisor import StreamSupervisor
from hybrid._wire import sse
from hybrid._wire.sse import SHUTDOWN_NOTICE, StreamEvent

logger = logging.getLogger("hybrid.answers")

TOO_FAR_BEHIND = "this connection fell too far behind the answer; ask again"

StopReason = Literal["stopped", "abandoned", "shutdown"]
"""Why an answer was ended early: the client's Stop, nobody came back within the grace, or shutdown."""

_ENDINGS: dict[StopReason, bytes] = {
    "stopped": sse.event("stopped", {}) + sse.DONE,
    "abandoned": sse.DONE,  # read by nobody: the answer is forgotten at once
    "shutdown": sse.failure("shutdown", SHUTDOWN_NOTICE),
}
_STATUS: dict[StopReason, OutcomeStatus] = {
    "stopped": "cancelled",
    "abandoned": "cancelled",
    "shutdown": "shutdown",
}


class Answer:
    """One answer: its id, the digest of its owner's token, its frames, and the task that generates it."""

    def __init__(
        self,
        answer_id: str,
        digest: bytes,
        *,
        frames: Frames,
        grace: float,
        supervisor: StreamSupervisor,
        release: Release,
        log: AnswerLog | None,
        on_end: Callable[[Answer, StopReason | None], None],
    ) -> None:
        self.id = answer_id
        self.digest = digest
        self.frames = frames
        self.grace = grace
        self.readers = 0
        """Responses reading this answer in this process now."""
        self._supervisor = supervisor
        self._release = release
        self._log = log  # shared with other workers, when there is one
        self._on_end = on_end
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        self._reason: StopReason | None = None
        self._status: OutcomeStatus = "finished"
        self._error: str | None = None
        self._deltas = 0
        self._started_at = self._loop.time()
        self._first_delta_at: float | None = None
        self._grace_timer: asyncio.TimerHandle | None = None
        self._lease_check: asyncio.Task[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None

    @property
    def done(self) -> bool:
        return self.frames.ended

    @property
    def log(self) -> AnswerLog | None:
        """The shared log this answer is mirrored to, if any."""
        return self._log

    @property
    def task(self) -> asyncio.Task[None]:
        assert self._task is not None, "start() first"
        return self._task

    def start(self, source: AsyncIterator[StreamEvent]) -> None:
        """Generate from `source` in a task of its own; no reader yet, so the grace runs from now."""
        self._task = self._loop.create_task(self._run(source))
        self._task.add_done_callback(self._finished)
        self._supervisor.opened(self.end_for_shutdown)
        self._arm_grace(self.grace)

    async def _run(self, source: AsyncIterator[StreamEvent]) -> None:
        """Encode the source's items into numbered frames, then the ending; always close the source.

        This loop runs once per token: like `EventStreamResponse._pump` it keeps its work in locals.
        """
        encode = sse.MessageEncoder().message
        append = self.frames.append
        log = self._log
        deltas = 0
        try:
            async for item in source:
                if type(item) is str:
                    chunk = encode(item)
                    if not chunk:
                        continue
                    if not deltas:
                        self._first_delta_at = self._loop.time()
                    deltas += 1
                else:
                    chunk = item.encode()  # type: ignore[union-attr]
                frames = append(chunk)
                if log is not None:
                    log.push(self.id, frames)
            ending = sse.DONE
        except asyncio.CancelledError:
            if self._reason is None or self._task.uncancel():  # type: ignore[union-attr]
                raise  # not ours: the event loop is closing
            ending = _ENDINGS[self._reason]
            self._status = _STATUS[self._reason]
        except Exception as exc:
            ending, self._error = source_ending(exc)
            self._status = "failed"
        finally:
            self._deltas = deltas
            await close_source(source)
        self._end(ending)

    def _end(self, ending: bytes) -> None:
        frames = self.frames.end(ending)
        if self._log is not None and self._reason != "abandoned":
            self._log.push(self.id, frames)

    def _finished(self, task: asyncio.Task[None]) -> None:
        """Whatever ended the task (even a stop before it ran): readers get an ending, places go back."""
        if not task.cancelled() and task.exception() is not None:
            logger.error("an answer broke while closing its source", exc_info=task.exception())
        if not self.frames.ended:
            reason = self._reason or "shutdown"
            self._status = _STATUS[reason]
            self._end(_ENDINGS[reason])
        for pending in (self._grace_timer, self._deadline, self._lease_check):
            if pending is not None:
                pending.cancel()
        self._release()
        self._supervisor.closed(self.end_for_shutdown, self._outcome())
        self._on_end(self, self._reason)

    def stop(self, reason: StopReason) -> None:
        """End the answer now for `reason`: its source is closed (and with it the upstream request)."""
        if self._reason is None and not self.frames.ended and self._task is not None:
            self._reason = reason
            self._task.cancel()

    def end_for_shutdown(self) -> None:
        """The server shuts down: with a shared log, generate on for the grace (readers resume through
        another worker); without one, nobody could resume it, so it ends now with the notice."""
        if self._log is None:
            self.stop("shutdown")
        elif self._deadline is None:
            self._deadline = self._loop.call_later(self.grace, self.stop, "shutdown")

    def attach(self) -> None:
        """A reader in this process starts reading."""
        self.readers += 1
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None

    def detach(self) -> None:
        """A reader in this process left; with none left, the grace starts to generate on unread (an
        ended answer is kept for the grace from its end, however often it is read)."""
        self.readers -= 1
        if not self.readers and not self.frames.ended:
            self._arm_grace(self.grace)

    def _arm_grace(self, seconds: float) -> None:
        self._grace_timer = self._loop.call_later(seconds, self._grace_over)

    def _grace_over(self) -> None:
        self._grace_timer = None
        if self.readers or self.frames.ended:
            return
        if self._log is None:
            self.stop("abandoned")
        else:  # a reader in another worker renews a lease while it reads
            self._lease_check = self._loop.create_task(self._check_lease(self._log))

    async def _check_lease(self, log: AnswerLog) -> None:
        left = await log.reader_lease(self.id)
        if self.readers or self.frames.ended:
            return
        if left > 0:
            self._arm_grace(left)
        else:
            self.stop("abandoned")

    async def tail(self, after: int, *, head: bytes = b"") -> AsyncIterator[bytes]:
        """`head`, then the frames after number `after` as they come, to the last (`after` is checked)."""
        self.attach()
        try:
            if head:
                yield head
            async for batch in read_frames(self.frames, after):
                yield batch
        finally:
            self.detach()

    def _outcome(self) -> StreamOutcome:
        first = self._first_delta_at
        return StreamOutcome(
            status=self._status,
            error=self._error,
            deltas=self._deltas,
            first_delta_seconds=None if first is None else first - self._started_at,
            duration_seconds=self._loop.time() - self._started_at,
        )


async def read_frames(frames: Frames, after: int) -> AsyncIterator[bytes]:
    """`frames.read(after)`, with a reader that fell behind what is kept told to ask again."""
    try:
        async with contextlib.aclosing(frames.read(after)) as batches:
            async for batch in batches:
                yield batch
    except FramesGone:
        raise StreamError(TOO_FAR_BEHIND, type="resume_too_late") from None
