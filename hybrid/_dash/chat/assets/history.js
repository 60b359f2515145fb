/* Conversations kept in this browser's localStorage, one entry per Chat (its id names it), so they survive
 * reloads; nothing is stored on the server. A Chat with history off keeps them in this page's memory
 * only (so they survive the Chat leaving the page and coming back, as a tab does, but not a reload). State is
 * `{conversations, current}`; a conversation is `{id, title, updated, messages}`; a message is
 * `{role, content, ...}` with, for answers, `blocks` (thinking, text and tool calls in order, see
 * `blocks.js`; older answers' `content` and `reasoning` become blocks as they load), `status` ("streaming",
 * "done", "stopped", "error"), `error`, `notice` and footer stats; while it streams, `resume` (the
 * answer's name on the server and the id of the last event the message holds, see `stream.js`). */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const PREFIX = "hybrid.chat.v1:";

  const memory = new Map(); // Chat id -> state, for Chats with history off

  function read(key) {
    try {
      return JSON.parse(localStorage.getItem(key) || "null");
    } catch {
      return null;
    }
  }

  /** A state as it was kept, made current: older answers get blocks. An answer that was streaming when
   * the page closed stays so when the server can still be asked for it (it has its name, `resume`, and
   * is the last of the current conversation: the controller re-attaches it); any other did not finish. */
  function revive(state) {
    if (!state || !Array.isArray(state.conversations)) return { conversations: [], current: null };
    for (const conversation of state.conversations) {
      for (const message of conversation.messages) {
        if (message.role !== "assistant") continue;
        if (!Array.isArray(message.blocks)) {
          message.blocks = hybrid.blocks.legacyBlocks(message);
          delete message.reasoning;
          delete message.reasoningMs;
        }
        const resumable = message.resume && conversation.id === state.current && message === conversation.messages.at(-1);
        if (message.status === "streaming" && !resumable) {
          message.status = "error";
          message.error = "the page was closed before the answer finished";
          delete message.resume;
          hybrid.blocks.interrupted(message);
        }
      }
    }
    return state;
  }

  function save(key, state) {
    // When storage is full, forget the oldest conversations rather than the newest answer. Storage the
    // page may not use at all (disabled, refused) keeps nothing, and the page keeps them all in memory.
    for (;;) {
      try {
        localStorage.setItem(key, JSON.stringify(state));
        return;
      } catch (error) {
        if (error.name !== "QuotaExceededError" || state.conversations.length <= 1) return;
        state.conversations.sort((a, b) => b.updated - a.updated).pop();
      }
    }
  }

  /** Where the Chat `id` keeps its conversations: localStorage, or this page's memory when `enabled` is
   * false. */
  function storage(id, enabled) {
    if (!enabled) return { load: () => revive(memory.get(id)), save: (state) => memory.set(id, state) };
    const key = PREFIX + id;
    return { load: () => revive(read(key)), save: (state) => save(key, state) };
  }

  function newId() {
    return Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
  }

  function titleOf(text) {
    const line = text.trim().split("\n")[0];
    return line.length > 48 ? line.slice(0, 47) + "…" : line;
  }

  hybrid.history = { storage, newId, titleOf };
})();
