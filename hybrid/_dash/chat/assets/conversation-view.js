/* What a Chat shows of its open conversation, in its conversation section: the messages, each an
 * article (a question's text, or an answer's blocks, `blocks.js`, with its status, footer and actions),
 * the empty state with its example prompts, the edit box of a question being edited, and the answer
 * streaming now (`StreamingMessage`). A conversation is drawn whole when it opens; after that only what
 * a turn changes is. The view scrolls with a streaming answer while the reader is at the bottom (it
 * "sticks"), and stops following once they scroll up.
 *
 * Buttons say what they do in `data-action`; the controller (`chat.js`) handles their clicks. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const STICK_PX = 48; // closer than this to the bottom counts as "following the answer"

  const element = (...args) => hybrid.dom.element(...args);

  /** A button for one of the controller's actions; the action's name is also its class, for styling. */
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

  function footerText(message) {
    const parts = [];
    if (message.model) parts.push(message.model);
    if (message.ttftMs != null) parts.push(`TTFT ${message.ttftMs} ms`);
    if (message.tokens) parts.push(`${message.counted ? "~" : ""}${message.tokens} tokens`);
    if (message.tokens && message.seconds > 0) parts.push(`${(message.tokens / message.seconds).toFixed(1)} tokens/s`);
    return parts.join(" · ");
  }

  /** A message's article: a question's text, or an answer's blocks (`.message-blocks`, see `blocks.js`). */
  function messageElement(message) {
    const article = element("article", { class: `message ${message.role}-message` });
    if (message.role === "user") {
      article.append(element("div", { class: "message-body" }, message.content));
    } else {
      const blocks = element("div", { class: "message-blocks" });
      hybrid.blocks.render(blocks, message);
      article.append(blocks);
    }
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

  class ConversationView {
    /** The view in the conversation section `element`, offering `examples` while a conversation is empty. */
    constructor(element, examples) {
      this.stick = true;
      this.attach(element, examples);
    }

    /** Show the conversation in `element` from now on (the Chat's element mounted again): what is shown
     * moves along, the streaming answer included. */
    moveTo(element, examples) {
      element.replaceChildren(...this.element.childNodes);
      this.attach(element, examples);
    }

    attach(element, examples) {
      this.element = element;
      this.examples = examples;
      element.addEventListener("scroll", () => this.onScroll(), { passive: true });
    }

    /** Draw `conversation` (null: none open) anew, scrolled to its end. */
    show(conversation) {
      if (!conversation || !conversation.messages.length) {
        this.element.replaceChildren(this.emptyState());
        return;
      }
      this.element.replaceChildren(...conversation.messages.map(messageElement));
      this.element.scrollTop = this.element.scrollHeight;
      this.stick = true;
    }

    emptyState() {
      const box = element("div", { class: "empty-state" });
      box.append(element("h2", {}, "What can I help with?"));
      if (this.examples.length) {
        const list = element("ul", { class: "examples", "aria-label": "Example prompts" });
        for (const example of this.examples) {
          const item = element("li");
          item.append(button("example-prompt", example));
          list.append(item);
        }
        box.append(list);
      }
      return box;
    }

    /** The question just asked, the last message of `conversation` (its first replaces the empty state). */
    addQuestion(conversation) {
      if (conversation.messages.length === 1) this.element.replaceChildren();
      this.element.append(messageElement(conversation.messages.at(-1)));
      this.stick = true;
    }

    /** An article for the answer `message`, which streams from now on (see `StreamingMessage`). */
    addAnswer(message) {
      const article = messageElement(message);
      this.element.append(article);
      return new StreamingMessage(article, message, () => this.follow());
    }

    /** Take away the last article (an answer drawn from the history, about to stream again). */
    removeLast() {
      this.element.lastElementChild.remove();
    }

    /** The position of the message `article` shows in the conversation. */
    indexOf(article) {
      return [...this.element.querySelectorAll(".message")].indexOf(article);
    }

    /** Take away the articles from the position `index` on. */
    removeFrom(index) {
      const articles = this.element.querySelectorAll(".message");
      for (let i = index; i < articles.length; i += 1) articles[i].remove();
    }

    /** Draw `message` again in place of `article` (an edit box closes). */
    redraw(article, message) {
      article.replaceWith(messageElement(message));
    }

    /** Turn the question `article` into an edit box holding `text`. */
    startEdit(article, text) {
      const body = article.querySelector(".message-body");
      const input = element("textarea", { class: "edit-input", "aria-label": "Edit message", rows: "3" });
      input.value = text;
      const box = element("div", { class: "edit-box" });
      const row = element("div", { class: "edit-buttons" });
      row.append(button("edit-cancel", "Cancel"), button("edit-save", "Send"));
      box.append(input, row);
      body.replaceWith(box);
      article.classList.add("editing");
      input.focus();
    }

    /** What the edit box in `article` holds. */
    editedText(article) {
      return article.querySelector(".edit-input").value;
    }

    /** The articles being edited. */
    editing() {
      return this.element.querySelectorAll(".message.editing");
    }

    setStreaming(streaming) {
      this.element.classList.toggle("streaming", streaming);
      // An open edit is sent once the answer has ended; Cancel stays on.
      this.element.querySelectorAll(".edit-save").forEach((save) => (save.disabled = streaming));
    }

    /** Keep the end in view, unless the reader scrolled away from it. */
    follow() {
      if (this.stick) this.element.scrollTop = this.element.scrollHeight;
    }

    /** Follow the conversation's end from now on, wherever the reader was. */
    stickToEnd() {
      this.stick = true;
      this.follow();
    }

    onScroll() {
      const view = this.element;
      this.stick = view.scrollHeight - view.scrollTop - view.clientHeight < STICK_PX;
    }
  }

  /** The article of the answer streaming now: its blocks as they grow (an `AnswerView`, `blocks.js`, which
   * carries on from the blocks the message holds already), a "Reconnecting…" line while the stream tries
   * to resume, and, once the answer ended, its status, footer and actions. Its blocks are announced once,
   * when it ends (`aria-busy`). */
  class StreamingMessage {
    constructor(article, message, follow) {
      this.article = article;
      this.message = message;
      this.follow = follow;
      this.container = article.querySelector(".message-blocks");
      this.container.setAttribute("aria-live", "polite");
      this.container.setAttribute("aria-busy", "true");
      this.blocks = hybrid.blocks.AnswerView.continuing(this.container, message, follow);
      this.notice = null; // the "Reconnecting…" line, while it shows
    }

    /** A text delta of the answer. */
    text(delta) {
      this.blocks.text(delta);
    }

    /** One of the answer's block events (`blocks.EVENTS`). */
    event(name, data) {
      this.blocks.event(name, data);
    }

    /** The answer streams again from its start (the message was emptied): its blocks are drawn anew. */
    restart() {
      this.blocks = new hybrid.blocks.AnswerView(this.container, this.message, this.follow);
    }

    reconnecting(yes) {
      if (yes && !this.notice) {
        this.notice = element("p", { class: "message-status message-extra", role: "status" }, "Reconnecting…");
        this.article.append(this.notice);
      } else if (!yes && this.notice) {
        this.notice.remove();
        this.notice = null;
      }
    }

    /** The answer ended (`stopped` by the user, or not); its message says how. */
    end(stopped) {
      this.blocks.end(stopped);
      this.container.setAttribute("aria-busy", "false");
      decorate(this.article, this.message);
    }
  }

  hybrid.ConversationView = ConversationView;
})();
