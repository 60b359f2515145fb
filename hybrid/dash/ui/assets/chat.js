/* The chat page's controller: the conversation view, the sidebar's history, and the actions on messages.
 *
 * Dash owns the controls (prompt, send, stop, new chat, settings) and calls in through the clientside
 * functions at the end of this file; this script owns the conversation and sidebar list, which it renders
 * itself so a streaming answer never goes through Dash's store or a server round trip. A turn renders
 * the conversation once; each delta only updates the streaming message (see `markdown.js`). */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const STICK_PX = 48; // closer than this to the bottom counts as "following the answer"
  // A ticket request still unanswered after this long fails its answer (with Retry): without it the page
  // would wait forever when the signing callback's request fails or hangs.
  const TICKET_TIMEOUT_MS = 15000;
  const chat = {
    config: null, // from the server, per page load: streamUrl, examples, allowSystem
    settings: {}, // model, preset, temperature, system (from the Dash controls)
    state: null, // {conversations, current}: see history.js
    turn: null, // the answer streaming now
    tickets: new Map(), // ticket requests waiting for the server: id -> settle(answer)
    stick: true,
  };

  const byId = (id) => document.getElementById(id);

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

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

  function setProps(id, props) {
    window.dash_clientside.set_props(id, props);
  }

  // ---- state ------------------------------------------------------------------------------------

  function current() {
    return chat.state.conversations.find((c) => c.id === chat.state.current) || null;
  }

  function persist() {
    hybrid.history.save(chat.state);
  }

  function touch(conversation) {
    conversation.updated = Date.now();
    persist();
  }

  // ---- rendering --------------------------------------------------------------------------------

  function renderConversation() {
    const view = byId("conversation");
    const conversation = current();
    if (!conversation || !conversation.messages.length) {
      view.replaceChildren(emptyState());
      return;
    }
    view.replaceChildren(...conversation.messages.map(messageElement));
    view.scrollTop = view.scrollHeight;
    chat.stick = true;
  }

  function emptyState() {
    const box = element("div", { class: "empty-state" });
    box.append(element("h2", {}, "What can I help with?"));
    const list = element("ul", { class: "examples", "aria-label": "Example prompts" });
    for (const example of chat.config.examples) {
      const item = element("li");
      item.append(button("example-prompt", example));
      list.append(item);
    }
    box.append(list);
    return box;
  }

  function messageElement(message) {
    const article = element("article", { class: `message ${message.role}-message` });
    const body = element("div", { class: "message-body" });
    if (message.role === "user") {
      body.textContent = message.content;
    } else {
      body.classList.add("markdown");
      body.innerHTML = hybrid.markdown.render(message.content);
    }
    article.append(body);
    decorate(article, message);
    return article;
  }

  /** (Re)build everything around a message's text: status, error, notice, footer and actions. */
  function decorate(article, message) {
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

  function footerText(message) {
    const parts = [];
    if (message.model) parts.push(message.model);
    if (message.ttftMs != null) parts.push(`TTFT ${message.ttftMs} ms`);
    if (message.tokens) parts.push(`${message.counted ? "~" : ""}${message.tokens} tokens`);
    if (message.tokens && message.seconds > 0) parts.push(`${(message.tokens / message.seconds).toFixed(1)} tokens/s`);
    return parts.join(" · ");
  }

  function renderList() {
    const list = byId("conversation-list");
    const items = [...chat.state.conversations]
      .sort((a, b) => b.updated - a.updated)
      .map((conversation) => {
        const item = element("li", { class: "conversation-item", "data-id": conversation.id });
        const open = button("conversation-open", conversation.title);
        if (conversation.id === chat.state.current) open.setAttribute("aria-current", "true");
        item.append(open, button("conversation-delete", "×", `Delete conversation: ${conversation.title}`));
        return item;
      });
    list.replaceChildren(...items);
  }

  // ---- scrolling --------------------------------------------------------------------------------

  function follow() {
    const view = byId("conversation");
    if (chat.stick) view.scrollTop = view.scrollHeight;
  }

  function onScroll() {
    const view = byId("conversation");
    chat.stick = view.scrollHeight - view.scrollTop - view.clientHeight < STICK_PX;
  }

  // ---- turns ------------------------------------------------------------------------------------

  function send(text) {
    if (chat.turn || !text || !text.trim()) return false;
    closeEdits(); // edits apply to the last exchange, which this question replaces
    let conversation = current();
    if (!conversation) {
      conversation = { id: hybrid.history.newId(), title: hybrid.history.titleOf(text), updated: Date.now(), messages: [] };
      chat.state.conversations.push(conversation);
      chat.state.current = conversation.id;
    }
    conversation.messages.push({ role: "user", content: text });
    if (conversation.messages.length === 1) byId("conversation").replaceChildren();
    byId("conversation").append(messageElement(conversation.messages.at(-1)));
    chat.stick = true;
    startAnswer(conversation);
    return true;
  }

  function requestBody(conversation) {
    const messages = conversation.messages
      .slice(0, -1) // the answer being asked for
      .filter((m) => m.content.trim())
      .map((m) => ({ role: m.role, content: m.content }));
    const { model, preset, temperature, system } = chat.settings;
    const body = { messages, model, preset, temperature };
    if (chat.config.allowSystem && system && system.trim()) body.system = system;
    return body;
  }

  /** What to post: the request itself, or, when the server signs requests, a promise of a ticket for it
   * from the Dash callback in `callbacks.py` (the server checks the request there and the stream trusts
   * only that). The promise fails when the server refuses, when no answer comes within
   * `TICKET_TIMEOUT_MS`, or when `signal` aborts (Stop); a late answer is ignored. */
  function authorize(body, signal) {
    if (!chat.config.tickets) return body;
    const id = hybrid.history.newId();
    return new Promise((resolve, reject) => {
      const seconds = TICKET_TIMEOUT_MS / 1000;
      const timer = setTimeout(() => onTicket({ id, error: `the server did not answer within ${seconds} s` }), TICKET_TIMEOUT_MS);
      signal.addEventListener("abort", () => onTicket({ id, error: "stopped" }), { once: true });
      chat.tickets.set(id, (answer) => {
        clearTimeout(timer);
        chat.tickets.delete(id);
        if (answer.ticket) resolve({ ticket: answer.ticket });
        else reject(new Error(answer.error || "the server refused the request"));
      });
      setProps("ticket-request", { data: { id, body } });
    });
  }

  function onTicket(answer) {
    const settle = answer && chat.tickets.get(answer.id);
    if (settle) settle(answer);
  }

  function startAnswer(conversation) {
    const message = { role: "assistant", content: "", status: "streaming", model: chat.settings.model };
    conversation.messages.push(message);
    touch(conversation);
    renderList();
    const article = messageElement(message);
    byId("conversation").append(article);
    const body = article.querySelector(".message-body");
    body.setAttribute("aria-live", "polite");
    body.setAttribute("aria-busy", "true"); // announced once, when it ends
    const view = new hybrid.markdown.StreamView(body);
    view.onRender = follow;
    const turn = { conversation, message, article, view, deltas: 0, startedAt: performance.now(), firstAt: 0, after: null };
    const request = requestBody(conversation);
    turn.stream = hybrid.openStream(chat.config.streamUrl, (signal) => authorize(request, signal), {
      text(delta) {
        if (turn.after === "completion") message.notice = (message.notice || "") + delta;
        if (turn.after) return; // after an error the server repeats it as text: the error box shows it
        if (!turn.firstAt) turn.firstAt = performance.now();
        turn.deltas += 1;
        message.content += delta;
        view.update(message.content);
      },
      event(name, data) {
        if (name === "meta" && data.model) message.model = data.model;
        if (name === "completion") {
          turn.after = "completion";
          message.usage = data;
        }
        if (name === "error") {
          turn.after = "error";
          message.error = data.message || "the server reported an error";
        }
      },
      end: (outcome) => finishAnswer(turn, outcome),
    });
    chat.turn = turn;
    setStreaming(true);
    follow();
  }

  function finishAnswer(turn, outcome) {
    const { message, view, article } = turn;
    chat.turn = null;
    const now = performance.now();
    if (outcome.stopped) message.status = "stopped";
    else if (outcome.error || message.error) {
      message.status = "error";
      message.error = message.error || outcome.error;
    } else message.status = "done";
    if (turn.firstAt) {
      message.ttftMs = Math.round(turn.firstAt - turn.startedAt);
      message.seconds = (now - turn.firstAt) / 1000;
    }
    const usage = message.usage && message.usage.completion_tokens;
    message.tokens = usage || turn.deltas;
    message.counted = !usage;
    delete message.usage;
    view.finish(message.content);
    hybrid.lastRender = { renderMs: view.renderMs, longestMs: view.longestMs, frames: view.frames };
    article.querySelector(".message-body").setAttribute("aria-busy", "false");
    decorate(article, message);
    touch(turn.conversation);
    setStreaming(false);
    follow();
  }

  function setStreaming(streaming) {
    byId("conversation").classList.toggle("streaming", streaming);
    // An open edit is sent once the answer has ended; Cancel stays on.
    byId("conversation").querySelectorAll(".edit-save").forEach((save) => (save.disabled = streaming));
    setProps("send", { disabled: streaming });
    setProps("stop", { disabled: !streaming });
    if (!streaming && (document.activeElement === byId("stop") || document.activeElement === document.body)) {
      byId("prompt").focus();
    }
  }

  function stop() {
    if (chat.turn) chat.turn.stream.stop();
  }

  /** The position of the message `article` shows in the current conversation. */
  function indexOf(article) {
    return [...byId("conversation").querySelectorAll(".message")].indexOf(article);
  }

  /** Edits and reruns apply to the last exchange (the last two messages), and not while an answer streams. */
  function actionable(index) {
    return !chat.turn && index >= current().messages.length - 2;
  }

  function resend(fromIndex) {
    const conversation = current();
    conversation.messages.splice(fromIndex);
    const articles = byId("conversation").querySelectorAll(".message");
    for (let i = fromIndex; i < articles.length; i += 1) articles[i].remove();
    startAnswer(conversation);
  }

  function rerun(article) {
    const index = indexOf(article);
    if (actionable(index)) resend(index);
  }

  function startEdit(article) {
    const index = indexOf(article);
    if (!actionable(index)) return;
    const body = article.querySelector(".message-body");
    const input = element("textarea", { class: "edit-input", "aria-label": "Edit message", rows: "3" });
    input.value = current().messages[index].content;
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
  function finishEdit(article, save) {
    if (save && chat.turn) return;
    const index = indexOf(article);
    const conversation = current();
    const text = article.querySelector(".edit-input").value;
    if (save && actionable(index) && text.trim()) {
      conversation.messages[index].content = text;
      if (index === 0) conversation.title = hybrid.history.titleOf(text);
      article.replaceWith(messageElement(conversation.messages[index]));
      resend(index + 1);
    } else {
      article.replaceWith(messageElement(conversation.messages[index]));
    }
  }

  function closeEdits() {
    byId("conversation").querySelectorAll(".message.editing").forEach((article) => finishEdit(article, false));
  }

  // ---- conversations ----------------------------------------------------------------------------

  function open(id) {
    stop();
    chat.state.current = id;
    persist();
    renderConversation();
    renderList();
    document.querySelector(".app").classList.remove("sidebar-open");
  }

  function remove(id) {
    if (chat.turn && chat.turn.conversation.id === id) stop();
    chat.state.conversations = chat.state.conversations.filter((c) => c.id !== id);
    if (chat.state.current === id) chat.state.current = null;
    persist();
    renderList();
    renderConversation();
  }

  function newChat() {
    open(null);
    byId("prompt").focus();
  }

  // ---- events -----------------------------------------------------------------------------------

  async function copy(text, target) {
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

  const articleOf = (target) => target.closest(".message");
  const itemId = (target) => target.closest(".conversation-item").dataset.id;

  /** What each button does, by its `data-action` (see `button`): one map for the conversation and the
   * sidebar's list. A handler gets the button that was clicked. */
  const ACTIONS = {
    "example-prompt": (target) => send(target.textContent),
    "copy-code": (target) => copy(target.closest(".code-block").querySelector("code").textContent, target),
    copy: (target) => copy(current().messages[indexOf(articleOf(target))].content, target),
    regenerate: (target) => rerun(articleOf(target)),
    retry: (target) => rerun(articleOf(target)),
    edit: (target) => startEdit(articleOf(target)),
    "edit-save": (target) => finishEdit(articleOf(target), true),
    "edit-cancel": (target) => finishEdit(articleOf(target), false),
    "conversation-open": (target) => open(itemId(target)),
    "conversation-delete": (target) => remove(itemId(target)),
  };

  function onClick(event) {
    const target = event.target.closest("button[data-action]");
    if (target && Object.hasOwn(ACTIONS, target.dataset.action)) ACTIONS[target.dataset.action](target);
  }

  function onKeyDown(event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (event.target.id === "prompt") {
      event.preventDefault(); // Enter sends; Shift+Enter inserts a newline
      if (!chat.turn) byId("send").click();
    } else if (event.target.classList.contains("edit-input")) {
      event.preventDefault();
      finishEdit(event.target.closest(".message"), true);
    }
  }

  function onToggleSidebar() {
    const app = document.querySelector(".app");
    const open = app.classList.toggle("sidebar-open");
    byId("sidebar-toggle").setAttribute("aria-expanded", String(open));
  }

  function init(config) {
    if (chat.config) return;
    chat.config = config;
    chat.state = hybrid.history.load();
    byId("conversation").addEventListener("scroll", onScroll, { passive: true });
    byId("conversation").addEventListener("click", onClick);
    byId("conversation-list").addEventListener("click", onClick);
    byId("sidebar-toggle").addEventListener("click", onToggleSidebar);
    document.addEventListener("keydown", onKeyDown);
    window.addEventListener("pagehide", persist); // keep the partial answer of a reload mid-stream
    renderList();
    renderConversation();
  }

  // ---- Dash clientside functions ----------------------------------------------------------------

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    hybrid: {
      init(config) {
        init(config);
      },
      settings(model, preset, temperature, system) {
        chat.settings = { model, preset, temperature, system };
      },
      send(clicks, prompt) {
        if (send(prompt)) setProps("prompt", { value: "" });
      },
      stop() {
        stop();
      },
      newChat() {
        newChat();
      },
      ticket(answer) {
        onTicket(answer);
      },
    },
  });
})();
