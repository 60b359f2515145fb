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
    }

    feed(chunk) {
      const text = this.buffer + chunk;
      // A trailing \r may be the first half of \r\n: keep it until the next chunk decides.
      const keep = text.endsWith("\r") ? 1 : 0;
      const lines = text.slice(0, text.length - keep).split(LINE);
      this.buffer = lines.pop() + text.slice(text.length - keep);
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
