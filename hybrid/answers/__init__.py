"""Resumable answers: an answer outlives its connection, and any worker can carry on serving it.

`Answers` (one per app) starts, resumes and stops them; `Answer` generates one into its `Frames`;
`answer_routes` serves `GET` (resume) and `DELETE` (stop) on `/api/stream/{answer_id}`; an `AnswerLog`
(`hybrid.stores.answer_log.RedisAnswerLog`) shares them between workers and hosts.
"""

from hybrid.answers.answer import Answer, StopReason
from hybrid.answers.frames import Frames, FramesGone
from hybrid.answers.hub import ANSWER_PATH, TOKEN_HEADER, Answers
from hybrid.answers.log import AnswerLog, AnswerStoreUnavailable, LoggedAnswer
from hybrid.answers.routes import answer_routes

__all__ = [
    "ANSWER_PATH",
    "TOKEN_HEADER",
    "Answer",
    "AnswerLog",
    "AnswerStoreUnavailable",
    "Answers",
    "Frames",
    "FramesGone",
    "LoggedAnswer",
    "StopReason",
    "answer_routes",
]
