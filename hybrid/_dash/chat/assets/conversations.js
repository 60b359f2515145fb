/* A Chat's conversations as its controller holds them: which there are, which one is open, and the
 * changes a turn makes to them (a question asked, an answer begun, the last exchange asked again, a
 * question edited). They are kept by `history.js` (this browser's localStorage, or the page's memory),
 * which also describes what a conversation and a message hold. Nothing here touches the page. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  class Conversations {
    /** The conversations of the Chat `id`, kept as its `history` setting says (see `history.storage`). */
    constructor(id, history) {
      this.storage = hybrid.history.storage(id, history);
      this.kept = this.storage.load(); // {conversations, current}, as `history.js` keeps them
    }

    /** The open conversation, or null (a new chat, before its first question). */
    current() {
      return this.kept.conversations.find((c) => c.id === this.kept.current) || null;
    }

    /** The conversations, newest first, for a page's list of them. */
    list() {
      return [...this.kept.conversations]
        .sort((a, b) => b.updated - a.updated)
        .map((c) => ({ id: c.id, title: c.title, current: c.id === this.kept.current }));
    }

    save() {
      this.storage.save(this.kept);
    }

    /** `conversation` changed now: it moves to the top of the list. */
    touch(conversation) {
      conversation.updated = Date.now();
    }

    /** Open the conversation `id` (null: none, a new chat). */
    open(id) {
      this.kept.current = id;
    }

    /** Forget the conversation `id`; when it was open, none is. */
    remove(id) {
      this.kept.conversations = this.kept.conversations.filter((c) => c.id !== id);
      if (this.kept.current === id) this.kept.current = null;
    }

    /** The question `text`, asked in the open conversation, or in a new one it titles when none is open:
     * that conversation. */
    ask(text) {
      let conversation = this.current();
      if (!conversation) {
        const title = hybrid.history.titleOf(text);
        conversation = { id: hybrid.history.newId(), title, updated: Date.now(), messages: [] };
        this.kept.conversations.push(conversation);
        this.kept.current = conversation.id;
      }
      conversation.messages.push({ role: "user", content: text });
      return conversation;
    }

    /** A new answer at the end of `conversation`, streaming from now on: the message. */
    addAnswer(conversation) {
      const message = { role: "assistant", content: "", blocks: [], status: "streaming", startedAt: Date.now(), deltas: 0 };
      conversation.messages.push(message);
      return message;
    }

    /** Forget the messages of `conversation` from `index` on (they are asked again). */
    truncate(conversation, index) {
      conversation.messages.splice(index);
    }

    /** The question at `index` in `conversation` now says `text`; the first one titles the conversation. */
    edit(conversation, index, text) {
      conversation.messages[index].content = text;
      if (index === 0) conversation.title = hybrid.history.titleOf(text);
    }
  }

  hybrid.Conversations = Conversations;
})();
