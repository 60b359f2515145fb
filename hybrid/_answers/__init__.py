"""Resumable answers: an answer outlives its connection, and any worker can carry on serving it.

`Answers` (`resumable.py`, one per app) starts, resumes and stops them, and is the stream core's
`Delivery` for clients that ask for one; `Answer` generates one into its `Frames`; `routes.py` serves
`GET` (resume) and `DELETE` (stop) on `/api/stream/{answer_id}`; an `AnswerLog` (`log.py`, on Redis in
`hybrid._stores.redis`) shares them between workers and hosts.
"""
