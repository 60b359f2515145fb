/* The Chat component's controller: one `ChatController` per Chat, holding all of its state.
 *
 * Dash renders the Chat's skeleton (conversation section, composer, stores); `mount.js` starts a
 * controller for each Chat element Dash mounts, and hands it to the next element of that Chat when one
 * comes back (a tab opened again). The controller renders the conversation itself, so a streaming answer
 * never goes through Dash's store or a server round trip.
 * A turn renders the conversation once; each delta only updates the streaming message: its blocks
 * (thinking, text, tool calls; `blocks.js`), the growing text block by block (`markdown.js`).
 * One answer runs from `startAnswer` (the ticket, `tickets.js`, then the stream) to `finishAnswer`
 * (called once, with how it ended); in between, `onText` and `onEvent` apply each message of the stream
 * to the turn: the answer's own events to its `AnswerView`, which builds the message's blocks and their
 * DOM as one fold of the events, the rest (model, usage, errors, page changes) to the message and the page.
 * Nothing lives in this script's scope but functions: every Chat on a page is its own, and the
 * controller of a Chat element is `element.hybridChat`. Pages talk to it through its methods
 * (`newChat`, `open`, `remove`, `conversations`) and the `hybrid-chat:change` event it dispatches. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const STICK_PX = 48; // closer than this to the bottom counts as "following the answer"
  const CHANGE = "hybrid-chat:change";

  const element = (...args) => hybrid.dom.element(...args);

  /** A button for one of the `ACTIONS` (below); the action's name is also its class, for styling. */
  function button(action, text, label) {
    const node = element("button", { type: "button", class: action, "data-action": action }, text);
    if (label) node.setAttribute("aria-label", label);
    return node;
  }

  /** A button whose visible text is drawn by CSS (`data-label`), so it stays out of the message's
   * innerText (copying or reading a message gives its content only); `label` is its accessible name. */
  function quietButton(action, text, label) {
    const node = button(action, undefined, label);
    node.classList.add("quiet-label");
    node.dataset.label = text;
    return node;
  }

  /** Dash's `set_props`, for a component of the page an answer changes (`hybrid.SetProps`). */
  function setProps(id, props) {
    try {
      window.dash_clientside.set_props(id, props);
    } catch (error) {
      console.warn("hybrid.SetProps could not change", id, error);
    }
  }

  function footerText(message) {
    const parts = [];
    if (message.model) parts.push(message.model);
    if (message.ttftMs != null) parts.push(`TTFT ${message.ttftMs} ms`);
    if (message.tokens) parts.push(`${message.counted ? "~" : ""}${message.tokens} tokens`);
    if (message.tokens && message.seconds > 0) parts.push(`${(message.tokens / message.seconds).toFixed(1)} tokens/s`);
    return parts.join(" · ");
  }

  const articleOf = (target) => target.closest(".message");

  /** What each button inside a Chat does, by its `data-action` (see `button`). A handler gets the
   * controller and the button that was clicked. */
  const ACTIONS = {
    "example-prompt": (chat, target) => chat.send(target.textContent),
    "copy-code": (chat, target) => chat.copy(target.closest(".code-block").querySelector("code").textContent, target),
    copy: (chat, target) => chat.copy(chat.current().messages[chat.indexOf(articleOf(target))].content, target),
    regenerate: (chat, target) => chat.rerun(articleOf(target)),
    retry: (chat, target) => chat.rerun(articleOf(target)),
    edit: (chat, target) => chat.startEdit(articleOf(target)),
    "edit-save": (chat, target) => chat.finishEdit(articleOf(target), true),
    "edit-cancel": (chat, target) => chat.finishEdit(articleOf(target), false),
  };

  class ChatController {
    /** The controller of the Chat element `root`; `config` comes from the server (see `component.py`). */
    constructor(root, config) {
      this.storage = hybrid.history.storage(config.id, config.history);
      this.state = this.storage.load();
      this.turn = null; // the answer streaming now
      this.idlers = []; // resolved when no answer streams (see `idle`)
      this.stick = true;
      this.lastRender = null; // the last answer's render cost: the render-budget test reads it
      this.bind(root, config);
      this.renderConversation();
      const conversation = this.current();
      const last = conversation && conversation.messages.at(-1);
      if (last && last.status === "streaming") this.reattach(conversation, last); // see `history.js`
    }

    /** Take the element `root` (its controls and their events) as this Chat's. Every listener is on the
     * element, so an element that leaves the page takes them along. */
    bind(root, config) {
      this.root = root;
      this.config = config;
      this.view = root.querySelector(".chat-conversation");
      this.prompt = root.querySelector(".chat-prompt");
      this.sendButton = root.querySelector(".chat-send");
      this.stopButton = root.querySelector(".chat-stop");
      this.view.addEventListener("scroll", () => this.onScroll(), { passive: true });
      root.addEventListener("click", (event) => this.onClick(event));
      root.addEventListener("keydown", (event) => this.onKeyDown(event));
      this.sendButton.addEventListener("click", () => this.sendPrompt());
      this.stopButton.addEventListener("click", () => this.stop());
      const newChat = root.querySelector(".chat-new");
      if (newChat) newChat.addEventListener("click", () => this.newChat());
      root.hybridChat = this;
    }

    /** Dash mounted this Chat's element again (a tab opened again) while its answer streamed off the
     * page: the conversation as it is (the streaming message's nodes, and an unsent question) moves in. */
    moveTo(root, config) {
      const { view, prompt } = this;
      delete this.root.hybridChat;
      this.bind(root, config);
      this.view.replaceChildren(...view.childNodes);
      this.prompt.value = prompt.value;
      this.setStreaming(this.streaming);
      this.stick = true;
      this.follow();
    }

    /** A promise that resolves once no answer streams. */
    idle() {
      return this.turn ? new Promise((resolve) => this.idlers.push(resolve)) : Promise.resolve();
    }

    // ---- state ----------------------------------------------------------------------------------

    current() {
      return this.state.conversations.find((c) => c.id === this.state.current) || null;
    }

    /** The conversations, newest first, for a page's list of them. */
    conversations() {
      return [...this.state.conversations]
        .sort((a, b) => b.updated - a.updated)
        .map((c) => ({ id: c.id, title: c.title, current: c.id === this.state.current }));
    }

    get streaming() {
      return this.turn !== null;
    }

    /** Save the conversations; a streaming answer's text with the id of the last event it holds (so a
     * page that comes back can carry on from there, see `stream.js`). */
    persist() {
      const turn = this.turn;
      if (turn && turn.message.resume) turn.message.resume.lastEventId = turn.stream.lastEventId;
      this.storage.save(this.state);
    }

    /** Save, and tell the page that the conversations changed. */
    changed(conversation) {
      if (conversation) conversation.updated = Date.now();
      this.persist();
      this.root.dispatchEvent(new CustomEvent(CHANGE, { bubbles: true, detail: { chat: this } }));
    }

    // ---- rendering ------------------------------------------------------------------------------

    renderConversation() {
      const conversation = this.current();
      if (!conversation || !conversation.messages.length) {
        this.view.replaceChildren(this.emptyState());
        return;
      }
      this.view.replaceChildren(...conversation.messages.map((m) => this.messageElement(m)));
      this.view.scrollTop = this.view.scrollHeight;
      this.stick = true;
    }

    emptyState() {
      const box = element("div", { class: "empty-state" });
      box.append(element("h2", {}, "What can I help with?"));
      if (this.config.examples.length) {
        const list = element("ul", { class: "examples", "aria-label": "Example prompts" });
        for (const example of this.config.examples) {
          const item = element("li");
          item.append(button("example-prompt", example));
          list.append(item);
        }
        box.append(list);
      }
      return box;
    }

    /** A message's article: a question's text, or an answer's blocks (`.message-blocks`, see `blocks.js`). */
    messageElement(message) {
      const article = element("article", { class: `message ${message.role}-message` });
      if (message.role === "user") {
        article.append(element("div", { class: "message-body" }, message.content));
      } else {
        const blocks = element("div", { class: "message-blocks" });
        hybrid.blocks.render(blocks, message);
        article.append(blocks);
      }
      this.decorate(article, message);
      return article;
    }

    /** (Re)build everything around a message's text: status, error, notice, footer and actions. */
    decorate(article, message) {
      article.querySelectorAll(".message-extra").forEach((node) => node.remove());
      article.dataset.status = message.status || "done";
      const extras = [];
      if (message.status === "stopped") extras.push(element("p", { class: "message-status" }, "Stopped"));
      if (message.status === "error") {
        const box = element("div", { class: "message-error", role: "alert" });
        box.append(element("span", {}, `⚠ The answer failed: ${message.error}.`), " ");
        box.append(button("retry", "Retry"));
        extras.push(box);
      }
      if (message.notice) extras.push(element("p", { class: "message-notice" }, message.notice.replace(/\*/g, "").trim()));
      if (message.role === "assistant" && message.status !== "streaming") {
        const footer = footerText(message);
        if (footer) extras.push(element("footer", { class: "message-footer" }, footer));
      }
      const actions = element("div", { class: "message-actions", role: "group", "aria-label": "Message actions" });
      if (message.content) actions.append(quietButton("copy", "Copy", `Copy ${message.role === "user" ? "message" : "answer"}`));
      if (message.role === "user") actions.append(quietButton("edit", "Edit", "Edit and resend"));
      else actions.append(quietButton("regenerate", "Regenerate", "Regenerate answer"));
      extras.push(actions);
      for (const node of extras) {
        node.classList.add("message-extra");
        article.append(node);
      }
    }

    // ---- scrolling ------------------------------------------------------------------------------

    follow() {
      if (this.stick) this.view.scrollTop = this.view.scrollHeight;
    }

    onScroll() {
      const view = this.view;
      this.stick = view.scrollHeight - view.scrollTop - view.clientHeight < STICK_PX;
    }

    // ---- turns ----------------------------------------------------------------------------------

    /** Send what the composer holds, and empty it. */
    sendPrompt() {
      if (this.send(this.prompt.value)) this.prompt.value = "";
    }

    send(text) {
      if (this.turn || !text || !text.trim()) return false;
      this.closeEdits(); // edits apply to the last exchange, which this question replaces
      let conversation = this.current();
      if (!conversation) {
        const title = hybrid.history.titleOf(text);
        conversation = { id: hybrid.history.newId(), title, updated: Date.now(), messages: [] };
        this.state.conversations.push(conversation);
        this.state.current = conversation.id;
      }
      conversation.messages.push({ role: "user", content: text });
      if (conversation.messages.length === 1) this.view.replaceChildren();
      this.view.append(this.messageElement(conversation.messages.at(-1)));
      this.stick = true;
      this.startAnswer(conversation);
      return true;
    }

    requestBody(conversation) {
      const messages = conversation.messages
        .slice(0, -1) // the answer being asked for
        .filter((m) => m.content.trim())
        .map((m) => ({ role: m.role, content: m.content }));
      return { messages };
    }

    startAnswer(conversation) {
      const message = { role: "assistant", content: "", blocks: [], status: "streaming", startedAt: Date.now(), deltas: 0 };
      conversation.messages.push(message);
      this.changed(conversation);
      const request = this.requestBody(conversation);
      // The server checks the conversation and reads the Chat's context as it signs; the stream trusts
      // only the ticket.
      const ticket = (signal) => hybrid.tickets.request(this.config.ticketRequest, request, signal);
      this.begin(conversation, message, (handlers) => hybrid.openStream(ticket, handlers, this.streamOptions()));
    }

    /** The answer `message` was streaming when the page left (a reload, a closed tab): follow it again on
     * the server, which kept it for a while (see `stream.js`). */
    reattach(conversation, message) {
      this.view.lastElementChild.remove(); // the message as the history drew it: it streams again
      const attach = message.resume;
      this.begin(conversation, message, (handlers) => hybrid.openStream(null, handlers, { ...this.streamOptions(), attach }));
    }

    streamOptions() {
      return { graceSeconds: this.config.resumeGraceSeconds || 0 };
    }

    /** Stream the answer `message` (new, or with the blocks it holds so far) into a new article, through
     * the stream `open(handlers)` starts. */
    begin(conversation, message, open) {
      const article = this.messageElement(message);
      this.view.append(article);
      const blocks = article.querySelector(".message-blocks");
      blocks.setAttribute("aria-live", "polite");
      blocks.setAttribute("aria-busy", "true"); // announced once, when it ends
      const follow = () => this.follow();
      const turn = {
        conversation, message, article, after: null,
        answer: hybrid.blocks.AnswerView.continuing(blocks, message, follow), // the answer's blocks
      };
      turn.stream = open({
        text: (delta) => this.onText(turn, delta),
        event: (name, data) => this.onEvent(turn, name, data),
        end: (outcome) => this.finishAnswer(turn, outcome),
        answer: (head) => {
          message.resume = { head, lastEventId: "" };
          this.persist();
        },
        reconnecting: (yes) => {
          if (yes && !turn.reconnecting) {
            turn.reconnecting = element("p", { class: "message-status message-extra", role: "status" }, "Reconnecting…");
            article.append(turn.reconnecting);
          } else if (!yes && turn.reconnecting) {
            turn.reconnecting.remove();
            turn.reconnecting = null;
          }
        },
        restart: () => {
          // The answer streams again from its start: what the page kept goes, the server's comes back.
          for (const kept of ["notice", "error", "usage", "model"]) delete message[kept];
          Object.assign(message, { content: "", blocks: [], deltas: 0 });
          turn.after = null;
          turn.answer = new hybrid.blocks.AnswerView(blocks, message, follow);
        },
      });
      this.turn = turn;
      this.setStreaming(true);
      this.follow();
    }

    /** The answer's first output (text, a tool call): the time to it, once. */
    firstOutput(message) {
      if (message.ttftMs == null) message.ttftMs = Date.now() - message.startedAt;
    }

    /** The stream's text: the answer's, or (after `completion`) a notice; after an error the server
     * repeats it as text, which the error box shows already. */
    onText(turn, delta) {
      const { message } = turn;
      if (turn.after === "completion") message.notice = (message.notice || "") + delta;
      if (turn.after) return;
      this.firstOutput(message);
      message.deltas += 1;
      turn.answer.text(delta);
    }

    /** The stream's named events: the answer's blocks (thinking, tool calls) go to its `AnswerView`. */
    onEvent(turn, name, data) {
      const { message } = turn;
      if (hybrid.blocks.EVENTS.has(name)) {
        if (turn.after) return;
        if (name !== "reasoning") this.firstOutput(message); // a tool call is output too
        turn.answer.event(name, data);
      } else if (name === "set_props" && data && data.id != null && data.props) setProps(data.id, data.props);
      else if (name === "meta" && data.model) message.model = data.model;
      else if (name === "completion") {
        turn.after = "completion";
        message.usage = data;
        if (data.model) message.model = data.model;
      } else if (name === "error") {
        turn.after = "error";
        message.error = data.message || "the server reported an error";
      }
    }

    finishAnswer(turn, outcome) {
      const { message, article } = turn;
      this.turn = null;
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
      turn.answer.end(Boolean(outcome.stopped));
      this.lastRender = turn.answer.renderCost();
      article.querySelector(".message-blocks").setAttribute("aria-busy", "false");
      this.decorate(article, message);
      this.changed(turn.conversation);
      this.setStreaming(false);
      this.follow();
      this.idlers.splice(0).forEach((resolve) => resolve());
    }

    setStreaming(streaming) {
      this.view.classList.toggle("streaming", streaming);
      // An open edit is sent once the answer has ended; Cancel stays on.
      this.view.querySelectorAll(".edit-save").forEach((save) => (save.disabled = streaming));
      this.sendButton.disabled = streaming;
      this.stopButton.disabled = !streaming;
      if (!streaming && (document.activeElement === this.stopButton || document.activeElement === document.body)) {
        this.prompt.focus();
      }
    }

    stop() {
      if (this.turn) this.turn.stream.stop();
    }

    /** The position of the message `article` shows in the current conversation. */
    indexOf(article) {
      return [...this.view.querySelectorAll(".message")].indexOf(article);
    }

    /** Edits and reruns apply to the last exchange (the last two messages), and not while an answer streams. */
    actionable(index) {
      return !this.turn && index >= this.current().messages.length - 2;
    }

    resend(fromIndex) {
      const conversation = this.current();
      conversation.messages.splice(fromIndex);
      const articles = this.view.querySelectorAll(".message");
      for (let i = fromIndex; i < articles.length; i += 1) articles[i].remove();
      this.startAnswer(conversation);
    }

    rerun(article) {
      const index = this.indexOf(article);
      if (this.actionable(index)) this.resend(index);
    }

    startEdit(article) {
      const index = this.indexOf(article);
      if (!this.actionable(index)) return;
      const body = article.querySelector(".message-body");
      const input = element("textarea", { class: "edit-input", "aria-label": "Edit message", rows: "3" });
      input.value = this.current().messages[index].content;
      const box = element("div", { class: "edit-box" });
      const row = element("div", { class: "edit-buttons" });
      row.append(button("edit-cancel", "Cancel"), button("edit-save", "Send"));
      box.append(input, row);
      body.replaceWith(box);
      article.classList.add("editing");
      input.focus();
    }

    /** Close the edit box in `article`; with `save`, send the edited question instead of the old one. Send
     * waits while an answer streams (the box stays, its text too); Cancel always closes. */
    finishEdit(article, save) {
      if (save && this.turn) return;
      const index = this.indexOf(article);
      const conversation = this.current();
      const text = article.querySelector(".edit-input").value;
      if (save && this.actionable(index) && text.trim()) {
        conversation.messages[index].content = text;
        if (index === 0) conversation.title = hybrid.history.titleOf(text);
        article.replaceWith(this.messageElement(conversation.messages[index]));
        this.resend(index + 1);
      } else {
        article.replaceWith(this.messageElement(conversation.messages[index]));
      }
    }

    closeEdits() {
      this.view.querySelectorAll(".message.editing").forEach((article) => this.finishEdit(article, false));
    }

    // ---- conversations --------------------------------------------------------------------------

    open(id) {
      this.stop();
      this.state.current = id;
      this.renderConversation();
      this.changed();
    }

    remove(id) {
      if (this.turn && this.turn.conversation.id === id) this.stop();
      this.state.conversations = this.state.conversations.filter((c) => c.id !== id);
      if (this.state.current === id) this.state.current = null;
      this.renderConversation();
      this.changed();
    }

    newChat() {
      this.open(null);
      this.prompt.focus();
    }

    // ---- events ---------------------------------------------------------------------------------

    async copy(text, target) {
      try {
        await navigator.clipboard.writeText(text);
      } catch {
        // No clipboard API outside secure contexts: fall back to a hidden selection.
        const area = element("textarea", { "aria-hidden": "true", class: "clipboard-fallback" });
        area.value = text;
        document.body.append(area);
        area.select();
        document.execCommand("copy");
        area.remove();
      }
      const label = target.dataset.label;
      target.dataset.label = "Copied";
      setTimeout(() => (target.dataset.label = label), 1500);
    }

    onClick(event) {
      const target = event.target.closest("button[data-action]");
      if (target && this.root.contains(target) && Object.hasOwn(ACTIONS, target.dataset.action)) {
        ACTIONS[target.dataset.action](this, target);
      }
    }

    onKeyDown(event) {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      if (event.target === this.prompt) {
        event.preventDefault(); // Enter sends; Shift+Enter inserts a newline
        if (!this.turn) this.sendPrompt();
      } else if (event.target.classList.contains("edit-input")) {
        event.preventDefault();
        this.finishEdit(articleOf(event.target), true);
      }
    }
  }

  hybrid.ChatController = ChatController;
})();
