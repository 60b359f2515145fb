"""`Answers`: the resumable answers of one app, how they start, resume, stop and end.

It is the `Delivery` (`hybrid._streams.delivery`) the app plugs into its stream endpoints: a stream
request that asks for a resumable answer is carried by it instead of straight to its client.

Protocol (what a client speaks; `docs/resumable.md` has it in full):

* the stream request carries `Hybrid-Resumable: 1`. The response's first event is `event: answer` with
  `{"id", "token", "url"}`; every event after it carries `id: N` (1, 2, ...). The token is shown once
  and only its SHA-256 is kept;
* `GET url` with `Hybrid-Resume-Token: <token>` and `Last-Event-ID: N` (the id of the last event
  received; none: from the start) replays the frames after N, then follows the answer live. 204 once
  the answer is gone (or the client has all of it); 401 without a token, 403 with a wrong one;
* `DELETE url` with the token stops the answer now (204): the upstream request is closed at once. A
  connection that just drops is not a Stop: the answer goes on for the grace, waiting to be resumed;
* when a worker shuts down with a shared store (Redis), the open streams of the answers mirrored there
  end with `event: reconnect`: resume them, another worker serves the rest while this one generates it
  (an answer Redis never got ends with the shutdown notice: nobody else could resume it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator

from starlette.requests import Request

from hybrid._answers.answer import Answer, StopReason
from hybrid._answers.frames import Frames
from hybrid._answers.log import AnswerLog, AnswerStoreUnavailable
from hybrid._answers.metrics import AnswerInstruments
from hybrid._errors import ApiError
from hybrid._streams.hooks import StreamOutcome
from hybrid._streams.limits import Release, release_once
from hybrid._streams.response import EventStreamResponse
from hybrid._streams.supervisor import EndStream, StreamSupervisor
from hybrid._web.identity import user_of
from hybrid._web.urls import mounted
from hybrid._wire import sse
from hybrid._wire.sse import StreamEvent

logger = logging.getLogger("hybrid.answers")

ANSWER_ID = re.compile(r"[A-Za-z0-9_-]{22}")
"""What `secrets.token_urlsafe(16)` makes: anything else names no answer (and never reaches Redis)."""
RESUMABLE_HEADER = "hybrid-resumable"
"""A stream request with this header set to `1` asks for a resumable answer."""
ANSWER_PATH = "/api/stream/{answer_id}"
"""Where an answer is resumed (GET) and stopped (DELETE), relative to where the app is mounted."""
TOKEN_HEADER = "hybrid-resume-token"
_REFUSALS = {
    AnswerStoreUnavailable().type: "unavailable",
    "shutting_down": "shutting_down",
    "server_busy": "busy",
}
"""The outcome a resume refused with a 503 is counted as, by the error's type."""


class Answers:
    """The resumable answers of one app: in this worker's memory, and in the shared `log` when given.

    `grace` seconds: how long an answer generates on with nobody reading it, and how long an ended
    answer stays resumable, from its end (0 turns resuming off: streams behave as if no client asked
    for it). `max_frames`: the frames of one answer kept for resumes (at least that many, fewer than
    twice). `max_readers`: resume connections reading one answer at once in this process (429 past it).
    `max_ended` and `max_ended_bytes`: the ended answers kept in this process, in number and in bytes
    (past either, the one that ended first is forgotten first).
    """

    def __init__(
        self,
        supervisor: StreamSupervisor,
        *,
        grace: float,
        max_frames: int,
        max_readers: int = 4,
        max_ended: int = 1_000,
        max_ended_bytes: int = 64 * 1_048_576,
        log: AnswerLog | None = None,
        instruments: AnswerInstruments | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.grace = grace
        self.max_frames = max_frames
        self.max_readers = max_readers
        self.max_ended = max_ended
        self.max_ended_bytes = max_ended_bytes
        self.log = log
        self.instruments = instruments
        self.resumes_open = 0
        """Resume connections open in this process now (each holds a stream place and its client's)."""
        self._resumes: dict[str, int] = {}  # answer -> its resume connections open here
        self._answers: dict[str, Answer] = {}
        self._forget: dict[str, asyncio.TimerHandle] = {}
        self._ended: OrderedDict[str, int] = OrderedDict()  # ended answers kept -> their bytes, oldest first
        self._ended_bytes = 0
        self._listening = False
        self._tails = _TailWatch(supervisor)

    @property
    def enabled(self) -> bool:
        return self.grace > 0

    def __len__(self) -> int:
        """Answers held in memory now: generating, or kept for resumes."""
        return len(self._answers)

    def takes(self, request: Request) -> bool:
        """Whether `request` asks for a resumable answer (and resuming is on)."""
        return self.enabled and request.headers.get(RESUMABLE_HEADER) == "1"

    async def deliver(
        self,
        source: AsyncIterator[StreamEvent],
        request: Request,
        *,
        release: Release,
        keepalive_seconds: float,
        send_timeout: float,
    ) -> EventStreamResponse:
        """Start generating `source` as a new answer; the response carries it to this client."""
        answer_id, token = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
        digest = _digest(token, user_of(request.scope))
        log = await self._open_in_log(answer_id, digest)
        answer = Answer(
            answer_id,
            digest,
            frames=Frames(self.max_frames),
            grace=self.grace,
            supervisor=self.supervisor,
            release=release,
            log=log,
            on_end=self._end,
        )
        self._answers[answer_id] = answer
        if self.instruments:
            self.instruments.buffered.inc()
        answer.start(source)
        url = mounted(request.scope.get("root_path", ""), ANSWER_PATH.format(answer_id=answer_id))
        head = sse.event("answer", {"id": answer_id, "token": token, "url": url})
        return self._response(
            answer.tail(0, head=head), keepalive_seconds, send_timeout, mirrored=log is not None
        )

    async def _open_in_log(self, answer_id: str, digest: bytes) -> AnswerLog | None:
        """The shared log the answer is mirrored to; None (resumable here only) if it is unreachable."""
        log = self.log
        if log is None:
            return None
        try:
            if not self._listening:
                await log.listen(self._stop_here)
                self._listening = True
            await log.open(answer_id, digest)
        except Exception as exc:
            self._store_error("open")
            logger.warning(
                "the answer store is unreachable (%r): this answer resumes in this worker only", exc
            )
            return None
        return log

    async def resume(
        self,
        answer_id: str,
        token: str | None,
        after: int,
        *,
        user: str | None,
        release: Release,
        keepalive_seconds: float,
        send_timeout: float,
    ) -> EventStreamResponse | None:
        """The rest of the answer after frame `after`, then live; None when there is nothing to resume.

        `ApiError`: 401 without a token, 403 with a wrong one (or another `user`'s), 410 when the frames
        after `after` were dropped, 429 when `max_readers` resume it here already, 503 when only the
        unreachable shared log could have it.
        """
        if not token:
            raise ApiError(401, "missing_resume_token", "send the answer's token in Hybrid-Resume-Token")
        if not ANSWER_ID.fullmatch(answer_id):
            return None
        digest = _digest(token, user)
        answer = self._answers.get(answer_id)
        if answer is not None:
            _check(answer.digest, digest)
            frames = answer.frames
            if frames.ended and after >= frames.last:
                return None
            _check_kept(after, first=frames.first)
            self._check_readers(answer_id)
            self.count_resume("local")
            source: AsyncIterator[bytes] = answer.tail(after)
            mirrored = answer.log is not None
        elif self.log is not None:
            try:
                logged = await self.log.lookup(answer_id)
            except AnswerStoreUnavailable:
                self._store_error("lookup")
                raise
            if logged is None:
                return None
            _check(logged.digest, digest)
            if logged.ended and after >= logged.last:
                return None
            _check_kept(after, first=logged.first)
            self._check_readers(answer_id)
            self.count_resume("shared")
            source = self.log.tail(answer_id, after)
            mirrored = True
        else:
            return None
        self._resume_opened(answer_id)

        def closed() -> None:
            self._resume_closed(answer_id)
            release()

        return self._response(
            source, keepalive_seconds, send_timeout, release=release_once(closed), mirrored=mirrored
        )

    def _check_readers(self, answer_id: str) -> None:
        readers = self._resumes.get(answer_id, 0)
        if readers >= self.max_readers:
            raise ApiError(
                429,
                "too_many_readers",
                f"this answer is resumed by {readers} connections already; close one to resume it here",
                headers={"Retry-After": "5"},
            )

    def _resume_opened(self, answer_id: str) -> None:
        """Count a resume of `answer_id` now, before its response reads anything: a burst of resumes
        arriving at once is bounded as one after another would be."""
        self._resumes[answer_id] = self._resumes.get(answer_id, 0) + 1
        self.resumes_open += 1
        if self.instruments:
            self.instruments.resumes_open.inc()

    def _resume_closed(self, answer_id: str) -> None:
        left = self._resumes.pop(answer_id) - 1
        if left:
            self._resumes[answer_id] = left
        self.resumes_open -= 1
        if self.instruments:
            self.instruments.resumes_open.dec()

    async def stop(self, answer_id: str, token: str | None, *, user: str | None) -> None:
        """The client's Stop: end the answer now, in whichever worker generates it."""
        if not token:
            raise ApiError(401, "missing_resume_token", "send the answer's token in Hybrid-Resume-Token")
        if not ANSWER_ID.fullmatch(answer_id):
            return
        digest = _digest(token, user)
        answer = self._answers.get(answer_id)
        if answer is not None:
            _check(answer.digest, digest)
            answer.stop("stopped")
            return
        if self.log is None:
            return
        try:
            logged = await self.log.lookup(answer_id)
            if logged is not None:
                _check(logged.digest, digest)
                if not logged.ended:
                    await self.log.publish_stop(answer_id)
        except AnswerStoreUnavailable:
            self._store_error("stop")
            raise

    def _stop_here(self, answer_id: str) -> None:
        """A stop published by a worker that checked the token: end the answer if it generates here."""
        answer = self._answers.get(answer_id)
        if answer is not None:
            answer.stop("stopped")

    def _response(
        self,
        source: AsyncIterator[bytes],
        keepalive_seconds: float,
        send_timeout: float,
        *,
        mirrored: bool,
        release: Release | None = None,
    ) -> EventStreamResponse:
        """A response reading an answer. At shutdown it tells its client to reconnect only if the answer
        is `mirrored` to the shared log: else nobody could resume it, and it ends with the notice."""
        return EventStreamResponse(
            source,
            keepalive_seconds=keepalive_seconds,
            send_timeout=send_timeout,
            supervisor=self._tails,
            on_close=release,
            framed=True,
            reconnect_at_shutdown=mirrored,
        )

    def _end(self, answer: Answer, reason: StopReason | None) -> None:
        """Keep an ended answer for resumes; forget an abandoned one now."""
        if self.instruments:
            self.instruments.buffer_bytes.observe(answer.frames.bytes)
            if reason is not None:
                self.instruments.stopped.labels(reason).inc()
        log = answer.log
        if reason == "abandoned":
            if log is not None:
                log.drop(answer.id)
            self._forget_now(answer.id)
            return
        if log is not None:
            log.finish(answer.id, keep=self.grace)
        self._keep(answer)

    def _keep(self, answer: Answer) -> None:
        """Keep an ended answer `grace` seconds from its end, within the bounds on ended answers: past
        them, the answers that ended first are forgotten (their readers here read on)."""
        loop = asyncio.get_running_loop()
        self._forget[answer.id] = loop.call_later(self.grace, self._forget_now, answer.id)
        self._ended[answer.id] = answer.frames.bytes
        self._ended_bytes += answer.frames.bytes
        while len(self._ended) > self.max_ended or self._ended_bytes > self.max_ended_bytes:
            self._forget_now(next(iter(self._ended)))

    def _forget_now(self, answer_id: str) -> None:
        pending = self._forget.pop(answer_id, None)
        if pending is not None:
            pending.cancel()
        self._ended_bytes -= self._ended.pop(answer_id, 0)
        if self._answers.pop(answer_id, None) is not None and self.instruments:
            self.instruments.buffered.dec()

    async def close(self) -> None:
        """At shutdown: let the answers still generating finish (within the grace), then free all."""
        generating = [answer.task for answer in self._answers.values() if not answer.done]
        if generating:
            _, late = await asyncio.wait(generating, timeout=self.grace + 1)
            for answer in list(self._answers.values()):
                answer.stop("shutdown")
            if late:
                await asyncio.wait(late, timeout=1)
        for handle in self._forget.values():
            handle.cancel()
        for answer_id in list(self._answers):
            self._forget_now(answer_id)
        if self.log is not None:
            with contextlib.suppress(Exception):  # nothing more to save: the process is stopping
                await self.log.close()

    def count_resume(self, outcome: str) -> None:
        """Count a resume request by outcome (see `AnswerInstruments.resumes`)."""
        if self.instruments:
            self.instruments.resumes.labels(outcome).inc()

    def resume_refused(self, error: ApiError) -> None:
        """Count a refused resume: by its 503's cause, else as `refused`."""
        self.count_resume(_REFUSALS.get(error.type, "refused"))

    def _store_error(self, operation: str) -> None:
        if self.instruments:
            self.instruments.redis_errors.labels(operation).inc()


class _TailWatch:
    """What the responses reading answers report to: shutdown ends them, but they are not streams of
    their own (the answer is the stream the supervisor counts and reports)."""

    def __init__(self, supervisor: StreamSupervisor) -> None:
        self.supervisor = supervisor

    def opened(self, end_stream: EndStream) -> None:
        self.supervisor.track(end_stream)

    def closed(self, end_stream: EndStream, outcome: StreamOutcome) -> None:
        self.supervisor.untrack(end_stream)


def _digest(token: str, user: str | None) -> bytes:
    """What is kept of a token: its hash, with the signed-in user it was given to (when there is one)."""
    return hashlib.sha256(f"{user or ''}\0{token}".encode()).digest()


def _check(kept: bytes, digest: bytes) -> None:
    if not hmac.compare_digest(kept, digest):
        raise ApiError(403, "invalid_resume_token", "the token is not this answer's")


def _check_kept(after: int, *, first: int) -> None:
    if first and after + 1 < first:
        raise ApiError(
            410,
            "resume_too_late",
            "the answer is longer than the server keeps for resuming from there; ask again",
        )
