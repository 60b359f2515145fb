/* Server-Sent Events parsing, as the HTML standard defines it ("Interpreting an event stream"), for a
 * stream read with `fetch` (EventSource cannot POST, send headers, or tell a stream cut before its end
 * from one that ended). */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const LINE = /\r\n|\r|\n/;
  const DIGITS = /^\d+$/;

  /** Incremental parser of one connection's body: `feed` it text chunks; it calls
   * `dispatch(name, data, lastEventId)` per complete event. `lastEventId` starts as the one of the
   * connection before (a resumed stream), changes with each `id:` field (one holding NUL is ignored)
   * and is what the events carry; `retry` is the last `retry:` field's milliseconds, or null. */
  class EventParser {
    constructor(dispatch, lastEventId = "") {
      this.dispatch = dispatch;
      this.buffer = "";
      this.data = [];
      this.name = "";
      this.idBuffer = lastEventId;
      this.lastEventId = lastEventId;
      this.retry = null;
      this.afterCR = false; // the last chunk ended with \r: a \n first in the next one is its \r\n
    }

    feed(chunk) {
      // A line ends at \r at once (the stream's last event may end so), and a \n that follows it is
      // part of the same line ending, even in the next chunk.
      const text = this.afterCR && chunk.startsWith("\n") ? chunk.slice(1) : chunk;
      if (chunk) this.afterCR = chunk.endsWith("\r");
      const lines = (this.buffer + text).split(LINE);
      this.buffer = lines.pop();
      for (const line of lines) this.line(line);
    }

    line(line) {
      if (line === "") {
        this.lastEventId = this.idBuffer;
        // A comment-only block (keep-alive) has no data and dispatches nothing.
        if (this.data.length) this.dispatch(this.name || "message", this.data.join("\n"), this.lastEventId);
        this.data = [];
        this.name = "";
        return;
      }
      if (line.startsWith(":")) return;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.data.push(value);
      else if (field === "event") this.name = value;
      else if (field === "id" && !value.includes("\0")) this.idBuffer = value;
      else if (field === "retry" && DIGITS.test(value)) this.retry = Number(value);
    }
  }

  hybrid.sse = { EventParser };
})();
