/* The chat stream client: POSTs a conversation and reads the answer's Server-Sent Events.
 *
 * Why not only the dash-extensions `SSE` component: it ignores named events (the `meta`, `completion`
 * and `error` events that carry the model, token usage and failures), logs network errors to the console
 * without telling the page, cannot tell an answer that ended without `[DONE]` from one still streaming,
 * and pushes every delta through Dash's store. This reader follows the SSE parsing rules of the HTML
 * standard and reports exactly one end per stream: done, stopped, or failed with a reason. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const LINE = /\r\n|\r|\n/;

  /**
   * Post the request `request(signal)` gives, `{url, body}` (or a promise of it: a signed ticket still on
   * its way; `signal` aborts on stop), and read the answer. Handlers: `text(delta)`, `event(name, data)`,
   * and `end(outcome)` once, where outcome is `{done: true}`, `{stopped: true}` or `{error: "why"}`.
   * Returns `{stop()}`.
   */
  function openStream(request, handlers) {
    const abort = new AbortController();
    let stopped = false;
    let ended = false;
    const end = (outcome) => {
      if (ended) return;
      ended = true;
      handlers.end(stopped ? { stopped: true } : outcome);
    };

    (async () => {
      let target;
      try {
        target = await request(abort.signal);
      } catch (error) {
        end({ error: error.message });
        return;
      }
      if (stopped) return;
      let response;
      try {
        response = await fetch(target.url, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
          body: JSON.stringify(target.body),
          cache: "no-store",
          signal: abort.signal,
        });
      } catch {
        end({ error: "the server could not be reached" });
        return;
      }
      if (!response.ok) {
        end({ error: await errorMessage(response) });
        return;
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new EventParser((name, data) => {
        if (name !== "message") {
          handlers.event(name, parseJson(data));
        } else if (data === "[DONE]") {
          end({ done: true });
          abort.abort(); // nothing may follow [DONE]; free the connection now
        } else {
          handlers.text(data);
        }
      });
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
          if (ended) return;
        }
        end({ error: "the connection closed before the answer finished" });
      } catch {
        end({ error: "the connection to the server was lost" });
      }
    })();

    return {
      stop() {
        stopped = true;
        abort.abort(); // the server sees the disconnect and cancels the upstream request
        end({ stopped: true });
      },
    };
  }

  /** Incremental SSE parser: `feed` text chunks, `dispatch(name, data)` per complete event. */
  class EventParser {
    constructor(dispatch) {
      this.dispatch = dispatch;
      this.buffer = "";
      this.data = [];
      this.name = "";
    }

    feed(chunk) {
      let text = this.buffer + chunk;
      // A trailing \r may be the first half of \r\n: keep it until the next chunk decides.
      const keep = text.endsWith("\r") ? 1 : 0;
      const lines = text.slice(0, text.length - keep).split(LINE);
      this.buffer = lines.pop() + text.slice(text.length - keep);
      for (const line of lines) this.line(line);
    }

    line(line) {
      if (line === "") {
        // A comment-only block (keep-alive) has no data and dispatches nothing.
        if (this.data.length) this.dispatch(this.name || "message", this.data.join("\n"));
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
    }
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch {
      // not JSON: fall through to the status line
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
})();
