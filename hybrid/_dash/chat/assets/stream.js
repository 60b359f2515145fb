/* An answer's stream: posts the signed question, reads the answer's Server-Sent Events (`sse.js`), and,
 * when the server keeps answers for resuming (`HYBRID_RESUME_GRACE_SECONDS`), resumes a cut stream.
 *
 * Why not only the dash-extensions `SSE` component: it ignores named events (the `meta`, `completion`
 * and `error` events that carry the model, token usage and failures), logs network errors to the console
 * without telling the page, cannot tell an answer that ended without `[DONE]` from one still streaming,
 * never resumes, and pushes every delta through Dash's store. This reader reports exactly one end per
 * answer: done, stopped, or failed with a reason.
 *
 * Resuming (the server's protocol: `docs/resumable.md`). The request says
 * `Hybrid-Resumable: 1`; the answer's first event names it (`event: answer`, `{id, token, url}`) and
 * every event after it carries an id. When the body ends without `[DONE]`, the connection breaks, or the
 * server asks (`event: reconnect` with `retry:`), the reader asks `GET url` for what came after the last
 * event it dispatched (`Last-Event-ID`), and feeds the same handlers: nothing is repeated or lost. It
 * waits `retry:` first, then 0.5, 1, 2, 4 s (with jitter) between tries, follows a 503's `Retry-After`,
 * and gives up once the server's grace has passed (the server keeps an unread answer that long). A page
 * that left mid-answer (a reload) re-attaches with the kept name: from the start (`Last-Event-ID: 0`,
 * the answer drawn again as it streams), or, when the server no longer has the start (410), after the
 * last event the page kept. Stop sends `DELETE url` (a dropped connection is not a Stop: the answer
 * would go on for the grace). */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const BACKOFF_MS = [500, 1000, 2000, 4000];
  // Stop before the answer's name arrived: it is the stream's first event, so wait for it (this long at
  // most) to Stop the answer by name, rather than drop a connection the server would keep answering for.
  const STOP_WAIT_MS = 5000;
  const RESUME_TOKEN = "Hybrid-Resume-Token";

  /**
   * Read an answer. `request(signal)` gives the stream request `{url, body}` (or a promise of it: a signed
   * ticket on its way; `signal` aborts on Stop). Handlers: `text(delta)`, `event(name, data)`, and
   * `end(outcome)` once, where outcome is `{done: true}`, `{stopped: true}` or `{error: "why"}`; for a
   * resumable answer also `answer(head)` when its name `{id, token, url}` arrives (keep it to re-attach),
   * `restart()` when a re-attached answer streams again from its start (forget what was drawn), and
   * `reconnecting(yes)` when a try to resume fails (yes) and when one succeeds (no).
   * Options: `graceSeconds`, the server's resume grace (0: the answer is not resumable, and not asked
   * to be); `attach: {head, lastEventId}`, re-attach to that answer instead of posting (`request` unused).
   * Returns the stream: `stop()`, and `lastEventId`, the id of the last event it dispatched.
   */
  function openStream(request, handlers, options = {}) {
    return new AnswerStream(request, handlers, options);
  }

  class AnswerStream {
    constructor(request, handlers, { graceSeconds = 0, attach = null }) {
      this.handlers = handlers;
      this.graceSeconds = graceSeconds;
      this.head = attach ? attach.head : null;
      this.lastEventId = "";
      this.kept = attach ? attach.lastEventId || "" : ""; // what the page kept: the fallback of a 410
      this.fromStart = Boolean(attach);
      this.connection = null; // the AbortController of the request in flight
      this.posted = false;
      this.stopped = false;
      this.ended = false;
      this.closed = false; // nothing more to read: [DONE] came, or the answer was stopped by name
      this.retry = null; // the server's `retry:`, in ms
      this.reconnect = false;
      this.stoppedElsewhere = false;
      this.wake = null;
      this.run(request);
    }

    stop() {
      if (this.stopped || this.ended) return;
      this.stopped = true;
      if (this.head) this.cancel();
      else if (this.posted && this.graceSeconds) this.stopTimer = setTimeout(() => this.abort(), STOP_WAIT_MS);
      else this.abort(); // nothing runs on the server yet, or it ends with its connection
      if (this.wake) this.wake();
      this.end({ stopped: true });
    }

    /** Stop the answer by name (the server closes its upstream request at once), and stop reading. */
    cancel() {
      clearTimeout(this.stopTimer);
      fetch(this.head.url, { method: "DELETE", headers: { [RESUME_TOKEN]: this.head.token }, keepalive: true }).catch(() => {});
      this.closed = true;
      this.abort();
    }

    abort() {
      if (this.connection) this.connection.abort();
    }

    connect() {
      this.connection = new AbortController();
      return this.connection.signal;
    }

    end(outcome) {
      if (this.ended) return;
      this.ended = true;
      this.handlers.end(this.stopped ? { stopped: true } : outcome);
    }

    async run(request) {
      let outcome = this.head ? { cut: "the connection to the server was lost" } : await this.post(request);
      while (!outcome.done && !this.ended) {
        if (!this.head) {
          this.end({ error: outcome.cut });
          return;
        }
        outcome = await this.resume(outcome);
      }
    }

    async post(request) {
      const signal = this.connect();
      let target;
      try {
        target = await request(signal);
      } catch (error) {
        this.end({ error: error.message });
        return { done: true };
      }
      if (this.stopped) return { done: true };
      const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
      if (this.graceSeconds) headers["Hybrid-Resumable"] = "1";
      let response;
      try {
        this.posted = true;
        response = await fetch(target.url, { method: "POST", headers, body: JSON.stringify(target.body), cache: "no-store", signal });
      } catch {
        this.end({ error: "the server could not be reached" });
        return { done: true };
      }
      if (!response.ok) {
        this.end({ error: await errorMessage(response) });
        return { done: true };
      }
      return this.read(response);
    }

    /** Read one response's events: `{done: true}` when the answer ended (or is not ours to read any
     * more), else `{cut: why}` or `{reconnect: true}` (the server asked to resume elsewhere). */
    async read(response) {
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new hybrid.sse.EventParser((name, data, id) => this.dispatch(name, data, id), this.lastEventId);
      this.reconnect = false;
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
          if (this.closed) return { done: true };
        }
      } catch {
        return this.closed ? { done: true } : { cut: "the connection to the server was lost" };
      } finally {
        if (parser.retry != null) this.retry = parser.retry;
      }
      return this.reconnect ? { reconnect: true } : { cut: "the connection closed before the answer finished" };
    }

    dispatch(name, data, id) {
      this.lastEventId = id;
      if (name === "answer") this.named(parseJson(data));
      else if (this.stopped) return; // only the answer's name matters after Stop
      else if (name === "reconnect") this.reconnect = true;
      else if (name === "stopped") this.stoppedElsewhere = true; // by a Stop from another page
      else if (name !== "message") this.handlers.event(name, parseJson(data));
      else if (data !== "[DONE]") this.handlers.text(data);
      else {
        this.closed = true;
        this.abort(); // nothing may follow [DONE]; free the connection now
        this.end(this.stoppedElsewhere ? { stopped: true } : { done: true });
      }
    }

    named(head) {
      if (this.head || !head.url || !head.token) return;
      this.head = head;
      if (this.stopped) this.cancel();
      else if (this.handlers.answer) this.handlers.answer(head);
    }

    /** Resume after a cut, until a response streams (its outcome), or the answer ends (`{done: true}`). */
    async resume(cut) {
      const deadline = Date.now() + this.graceSeconds * 1000;
      let wait = this.retry || 0;
      for (let attempt = 0; ; attempt += 1) {
        await this.sleep(Math.min(wait, deadline - Date.now()));
        if (this.stopped) return { done: true };
        if (Date.now() >= deadline && attempt) {
          this.end({ error: `${cut.cut || "the server asked to reconnect"}, and it did not come back within ${this.graceSeconds} s` });
          return { done: true };
        }
        wait = jitter(BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]);
        let response;
        try {
          response = await fetch(this.head.url, { headers: this.resumeHeaders(), cache: "no-store", signal: this.connect() });
        } catch {
          this.handlers.reconnecting(true);
          continue;
        }
        if (response.status === 200) {
          this.handlers.reconnecting(false);
          if (this.fromStart) this.handlers.restart();
          this.fromStart = false;
          return this.read(response);
        }
        if (response.status === 503) {
          this.handlers.reconnecting(true);
          wait = Number(response.headers.get("Retry-After")) * 1000 || wait;
          continue;
        }
        if (response.status === 410 && this.fromStart && this.kept) {
          this.fromStart = false; // the start is gone: carry on after what the page kept
          this.lastEventId = this.kept;
          wait = 0;
          continue;
        }
        this.end({ error: response.status === 204 ? this.gone() : await errorMessage(response) });
        return { done: true };
      }
    }

    resumeHeaders() {
      const after = this.fromStart ? "0" : this.lastEventId || "0";
      return { [RESUME_TOKEN]: this.head.token, "Last-Event-ID": after, Accept: "text/event-stream" };
    }

    gone() {
      return `the server no longer has this answer (it keeps one nobody reads for ${this.graceSeconds} s)`;
    }

    /** Wait `ms`, or less when Stop comes first. */
    sleep(ms) {
      if (ms <= 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  const jitter = (ms) => Math.round(ms * (0.75 + Math.random() * 0.5));

  /** What a refused response says: its JSON error's message, else its status line. */
  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch {
      // not JSON (Dash's own error page, a proxy's): fall through to the status line
    }
    return `the server answered ${response.status} ${response.statusText}`.trim();
  }

  function parseJson(data) {
    try {
      return JSON.parse(data);
    } catch {
      return {};
    }
  }

  hybrid.openStream = openStream;
  hybrid.errorMessage = errorMessage;
})();
