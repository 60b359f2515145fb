/* The Chat component's controller: one `ChatController` per Chat, which ties its parts together and
 * does what its buttons say.
 *
 * Dash renders the Chat's skeleton (conversation section, composer, stores); `mount.js` starts a
 * controller for each Chat element Dash mounts, and hands it to the next element of that Chat when one
 * comes back (a tab opened again). The controller holds the Chat's conversations (`conversations.js`),
 * shows the open one (`conversation-view.js`), takes questions from the composer (`composer.js`) and runs
 * one answer at a time (`answer.js`: its ticket, its stream, its end), so a streaming answer never goes
 * through Dash's store or a server round trip. Edits and reruns apply to the last exchange.
 * Nothing lives in this script's scope but functions: every Chat on a page is its own, and the
 * controller of a Chat element is `element.hybridChat`. Pages talk to it through its methods
 * (`newChat`, `open`, `remove`, `conversations`) and the `hybrid-chat:change` event it dispatches. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const CHANGE = "hybrid-chat:change";

  const articleOf = (target) => target.closest(".message");

  /** Put `text` on the clipboard, and say so on the button `target` for a moment. */
  async function copy(text, target) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No clipboard API outside secure contexts: fall back to a hidden selection.
      const area = hybrid.dom.element("textarea", { "aria-hidden": "true", class: "clipboard-fallback" });
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

  /** What each button inside the conversation does, by its `data-action` (see `conversation-view.js`). A
   * handler gets the controller and the button that was clicked. */
  const ACTIONS = {
    "example-prompt": (chat, target) => chat.send(target.textContent),
    "copy-code": (chat, target) => copy(target.closest(".code-block").querySelector("code").textContent, target),
    copy: (chat, target) => copy(chat.messageOf(articleOf(target)).content, target),
    regenerate: (chat, target) => chat.rerun(articleOf(target)),
    retry: (chat, target) => chat.rerun(articleOf(target)),
    edit: (chat, target) => chat.startEdit(articleOf(target)),
    "edit-save": (chat, target) => chat.finishEdit(articleOf(target), true),
    "edit-cancel": (chat, target) => chat.finishEdit(articleOf(target), false),
  };

  class ChatController {
    /** The controller of the Chat element `root`; `config` comes from the server (see `component.py`). */
    constructor(root, config) {
      this.state = new hybrid.Conversations(config.id, config.history);
      this.answer = null; // the answer streaming now
      this.idlers = []; // resolved when no answer streams (see `idle`)
      this.bind(root, config);
      this.view = new hybrid.ConversationView(root.querySelector(".chat-conversation"), config.examples);
      this.composer = new hybrid.Composer(root, {
        send: (text) => this.send(text),
        stop: () => this.stop(),
        newChat: () => this.newChat(),
      });
      const conversation = this.state.current();
      this.view.show(conversation);
      const last = conversation && conversation.messages.at(-1);
      if (last && last.status === "streaming") this.reattach(conversation, last); // see `history.js`
    }

    /** Take the element `root` as this Chat's. Every listener is on the element, so an element that
     * leaves the page takes them along. */
    bind(root, config) {
      this.root = root;
      this.config = config;
      root.addEventListener("click", (event) => this.onClick(event));
      root.addEventListener("keydown", (event) => this.onKeyDown(event));
      root.hybridChat = this;
    }

    /** Dash mounted this Chat's element again (a tab opened again) while its answer streamed off the
     * page: the conversation as it is (the streaming message's nodes, and an unsent question) moves in. */
    moveTo(root, config) {
      delete this.root.hybridChat;
      this.bind(root, config);
      this.view.moveTo(root.querySelector(".chat-conversation"), config.examples);
      this.composer.moveTo(root);
      this.setStreaming(this.streaming);
      this.view.stickToEnd();
    }

    /** A promise that resolves once no answer streams. */
    idle() {
      return this.answer ? new Promise((resolve) => this.idlers.push(resolve)) : Promise.resolve();
    }

    get streaming() {
      return this.answer !== null;
    }

    /** The conversations, newest first, for a page's list of them. */
    conversations() {
      return this.state.list();
    }

    /** Save the conversations; a streaming answer's with the id of the last event it holds. */
    persist() {
      if (this.answer) this.answer.markResumePoint();
      this.state.save();
    }

    /** Save, and tell the page that the conversations changed (`conversation`, when given, now). */
    changed(conversation) {
      if (conversation) this.state.touch(conversation);
      this.persist();
      this.root.dispatchEvent(new CustomEvent(CHANGE, { bubbles: true, detail: { chat: this } }));
    }

    setStreaming(streaming) {
      this.view.setStreaming(streaming);
      this.composer.setStreaming(streaming);
    }

    // ---- answers --------------------------------------------------------------------------------

    /** Ask `text` in the open conversation (or a new one): whether it was sent (not while an answer streams). */
    send(text) {
      if (this.answer || !text || !text.trim()) return false;
      this.closeEdits(); // edits apply to the last exchange, which this question replaces
      const conversation = this.state.ask(text);
      this.view.addQuestion(conversation);
      this.startAnswer(conversation);
      return true;
    }

    startAnswer(conversation) {
      const message = this.state.addAnswer(conversation);
      this.changed(conversation);
      this.begin(conversation, message, { ticketStore: this.config.ticketRequest });
    }

    /** The answer `message` was streaming when the page left (a reload, a closed tab): follow it again on
     * the server, which kept it for a while (see `stream.js`). */
    reattach(conversation, message) {
      this.view.removeLast(); // the message as the history drew it: it streams again
      this.begin(conversation, message, { attach: message.resume });
    }

    /** Stream the answer `message` into a new article; `how` says where it comes from (see `Answer`). */
    begin(conversation, message, how) {
      this.answer = new hybrid.Answer(conversation, message, this.view.addAnswer(message), {
        ...how,
        graceSeconds: this.config.resumeGraceSeconds || 0,
        allowProps: this.config.allowProps || [],
        named: () => this.persist(),
        ended: () => this.answerEnded(conversation),
      });
      this.setStreaming(true);
      this.view.follow();
    }

    /** The answer ended (its message says how): kept, and the composer sends again. */
    answerEnded(conversation) {
      this.answer = null;
      this.changed(conversation);
      this.setStreaming(false);
      this.view.follow();
      this.idlers.splice(0).forEach((resolve) => resolve());
    }

    stop() {
      if (this.answer) this.answer.stop();
    }

    // ---- the last exchange ----------------------------------------------------------------------

    /** The message the `article` shows in the open conversation. */
    messageOf(article) {
      return this.state.current().messages[this.view.indexOf(article)];
    }

    /** Edits and reruns apply to the last exchange (the last two messages), and not while an answer streams. */
    actionable(index) {
      return !this.answer && index >= this.state.current().messages.length - 2;
    }

    /** Ask again for the answer at `index`, forgetting it and whatever came after. */
    resend(index) {
      const conversation = this.state.current();
      this.state.truncate(conversation, index);
      this.view.removeFrom(index);
      this.startAnswer(conversation);
    }

    rerun(article) {
      const index = this.view.indexOf(article);
      if (this.actionable(index)) this.resend(index);
    }

    startEdit(article) {
      const index = this.view.indexOf(article);
      if (this.actionable(index)) this.view.startEdit(article, this.state.current().messages[index].content);
    }

    /** Close the edit box in `article`; with `save`, send the edited question instead of the old one. Send
     * waits while an answer streams (the box stays, its text too); Cancel always closes. */
    finishEdit(article, save) {
      if (save && this.answer) return;
      const index = this.view.indexOf(article);
      const conversation = this.state.current();
      const text = this.view.editedText(article);
      const edited = save && this.actionable(index) && text.trim();
      if (edited) this.state.edit(conversation, index, text);
      this.view.redraw(article, conversation.messages[index]);
      if (edited) this.resend(index + 1);
    }

    closeEdits() {
      this.view.editing().forEach((article) => this.finishEdit(article, false));
    }

    // ---- conversations --------------------------------------------------------------------------

    open(id) {
      this.stop();
      this.state.open(id);
      this.view.show(this.state.current());
      this.changed();
    }

    remove(id) {
      if (this.answer && this.answer.conversation.id === id) this.stop();
      this.state.remove(id);
      this.view.show(this.state.current());
      this.changed();
    }

    newChat() {
      this.open(null);
      this.composer.focus();
    }

    // ---- events ---------------------------------------------------------------------------------

    onClick(event) {
      const target = event.target.closest("button[data-action]");
      if (target && this.root.contains(target) && Object.hasOwn(ACTIONS, target.dataset.action)) {
        ACTIONS[target.dataset.action](this, target);
      }
    }

    /** Enter in an edit box sends the edited question (the composer's prompt is the composer's). */
    onKeyDown(event) {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      if (event.target.classList.contains("edit-input")) {
        event.preventDefault();
        this.finishEdit(articleOf(event.target), true);
      }
    }
  }

  hybrid.ChatController = ChatController;
})();
