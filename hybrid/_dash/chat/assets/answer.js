/* One answer of a Chat, from its ticket to its end. A new answer asks its Chat's Dash callback to sign the
 * conversation into a ticket (`tickets.js`), then posts that ticket and reads the answer's stream
 * (`stream.js`), which resumes a cut stream when the server keeps answers; an answer that was streaming
 * when the page left re-attaches to the server's copy instead (see `history.js`). Each message of the
 * stream goes to the answer's message and to its article (`StreamingMessage`, `conversation-view.js`): the
 * answer's own events (text, thinking, tool calls) to its blocks; the model, the token usage and errors
 * to the message's footer and status; page changes (`hybrid.SetProps`) to the page. The answer ends once,
 * done, stopped or failed, and its message then holds what the history keeps of it. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  /** Dash's `set_props`, for a component of the page an answer changes (`hybrid.SetProps`); never a prop
   * that would put HTML or script into the page, unless the Chat allows it by name (`page-props.js`). */
  function setProps(id, props, allowed) {
    const refused = hybrid.pageProps.unsafeProp(props, allowed);
    if (refused) {
      console.warn("hybrid.SetProps refused", refused, "for", id, "(the Chat's allow_props does not name it)");
      return;
    }
    try {
      window.dash_clientside.set_props(id, props);
    } catch (error) {
      console.warn("hybrid.SetProps could not change", id, error);
    }
  }

  /** What the server is asked to sign for the answer `conversation` ends with: the messages before it. */
  function requestBody(conversation) {
    const messages = conversation.messages
      .slice(0, -1) // the answer being asked for
      .filter((m) => m.content.trim())
      .map((m) => ({ role: m.role, content: m.content }));
    return { messages };
  }

  class Answer {
    /**
     * Stream the answer `message`, the last of `conversation` (new, or holding the blocks it had when its
     * page left), into `shown`, its `StreamingMessage`. Options: `ticketStore`, the Chat's ticket-request
     * store, to ask for a new answer; or `attach`, the `resume` the message kept, to re-attach to the
     * server's copy; `graceSeconds`, how long the server keeps an answer for resuming (0: it does not);
     * `allowProps`, the props its page changes may set although they inject HTML (the Chat's `allow_props`);
     * `named()` when the answer got its name on the server (the message should be kept, to re-attach
     * after a reload); `ended()` once, when it has ended.
     */
    constructor(conversation, message, shown, { ticketStore, attach, graceSeconds, allowProps = [], named, ended }) {
      this.conversation = conversation;
      this.allowProps = allowProps;
      this.message = message;
      this.shown = shown;
      this.ended = ended;
      this.after = null; // what the stream's text is after the answer: a "completion" notice, or an "error"
      // The server checks the conversation and reads the Chat's context as it signs; the stream trusts
      // only the ticket.
      const body = attach ? null : requestBody(conversation);
      const ticket = attach ? null : (signal) => hybrid.tickets.request(ticketStore, body, signal);
      this.stream = hybrid.openStream(
        ticket,
        {
          text: (delta) => this.onText(delta),
          event: (name, data) => this.onEvent(name, data),
          end: (outcome) => this.finish(outcome),
          answer: (head) => {
            message.resume = { head, lastEventId: "" };
            named();
          },
          reconnecting: (yes) => shown.reconnecting(yes),
          restart: () => this.restart(),
        },
        { graceSeconds, attach },
      );
    }

    stop() {
      this.stream.stop();
    }

    /** Note in the message the id of the last event it holds, so that a page that comes back can carry
     * on from there (see `stream.js`). */
    markResumePoint() {
      if (this.message.resume) this.message.resume.lastEventId = this.stream.lastEventId;
    }

    /** The answer streams again from its start: what the page kept goes, the server's comes back. */
    restart() {
      const { message } = this;
      for (const kept of ["notice", "error", "usage", "model"]) delete message[kept];
      Object.assign(message, { content: "", blocks: [], deltas: 0 });
      this.after = null;
      this.shown.restart();
    }

    /** The answer's first output (text, a tool call): the time to it, once. */
    firstOutput() {
      const { message } = this;
      if (message.ttftMs == null) message.ttftMs = Date.now() - message.startedAt;
    }

    /** The stream's text: the answer's, or (after `completion`) a notice; after an error the server
     * repeats it as text, which the error box shows already. */
    onText(delta) {
      const { message } = this;
      if (this.after === "completion") message.notice = (message.notice || "") + delta;
      if (this.after) return;
      this.firstOutput();
      message.deltas += 1;
      this.shown.text(delta);
    }

    /** The stream's named events: the answer's blocks (thinking, tool calls) go to its article. */
    onEvent(name, data) {
      const { message } = this;
      if (hybrid.blocks.EVENTS.has(name)) {
        if (this.after) return;
        if (name !== "reasoning") this.firstOutput(); // a tool call is output too
        this.shown.event(name, data);
      } else if (name === "set_props" && data && data.id != null && data.props) setProps(data.id, data.props, this.allowProps);
      else if (name === "meta" && data.model) message.model = data.model;
      else if (name === "completion") {
        this.after = "completion";
        message.usage = data;
        if (data.model) message.model = data.model;
      } else if (name === "error") {
        this.after = "error";
        message.error = data.message || "the server reported an error";
      }
    }

    /** The stream ended (`outcome`, see `stream.js`): the message's status and footer figures, without
     * what only streaming needed. */
    finish(outcome) {
      const { message } = this;
      if (outcome.stopped) message.status = "stopped";
      else if (outcome.error || message.error) {
        message.status = "error";
        message.error = message.error || outcome.error;
      } else message.status = "done";
      if (message.ttftMs != null) message.seconds = Math.max(0, Date.now() - message.startedAt - message.ttftMs) / 1000;
      const usage = message.usage && message.usage.completion_tokens;
      message.tokens = usage || message.deltas;
      message.counted = !usage;
      for (const transient of ["usage", "startedAt", "deltas", "resume"]) delete message[transient];
      this.shown.end(Boolean(outcome.stopped));
      this.ended();
    }
  }

  hybrid.Answer = Answer;
})();
