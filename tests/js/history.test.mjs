// The history store (`history.js`): each Chat's conversations under a key of its own in localStorage,
// kept and loaded again; missing, corrupt or unusable storage; full storage; history off (this page's
// memory only); answers that were streaming when the page closed.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chatWindow, plain } from "./chat-window.mjs";

const EMPTY = { conversations: [], current: null };

function conversation(id, updated, messages = [{ role: "user", content: `question ${id}` }]) {
  return { id, title: `title ${id}`, updated, messages };
}

const answer = (fields) => ({ role: "assistant", content: "answer", blocks: [{ type: "text", text: "answer" }], status: "done", ...fields });

describe("kept in localStorage", () => {
  test("under a key of the Chat's own", () => {
    const window = chatWindow();
    const { storage } = window.hybridChat.history;
    const state = { conversations: [conversation("c1", 1)], current: "c1" };
    storage("support", true).save(state);
    assert.deepEqual(Object.keys(window.localStorage), ["hybrid.chat.v1:support"]);
    assert.deepEqual(plain(JSON.parse(window.localStorage.getItem("hybrid.chat.v1:support"))), state);
    assert.deepEqual(plain(storage("sales", true).load()), EMPTY); // another Chat has its own
  });

  test("and loaded again by the next page", () => {
    const state = { conversations: [conversation("c1", 1, [{ role: "user", content: "hi" }, answer()])], current: "c1" };
    const first = chatWindow();
    first.hybridChat.history.storage("chat", true).save(state);
    const kept = first.localStorage.getItem("hybrid.chat.v1:chat");
    const next = chatWindow({ before: (window) => window.localStorage.setItem("hybrid.chat.v1:chat", kept) });
    assert.deepEqual(plain(next.hybridChat.history.storage("chat", true).load()), state);
  });

  test("nothing kept yet loads as no conversations", () => {
    assert.deepEqual(plain(chatWindow().hybridChat.history.storage("chat", true).load()), EMPTY);
  });

  for (const [name, text] of [
    ["not JSON", "{not json"],
    ["JSON null", "null"],
    ["no conversation list", '{"current": "c1"}'],
    ["a list that is not one", '{"conversations": "c1", "current": "c1"}'],
    ["an array", "[]"],
  ]) {
    test(`corrupt storage (${name}) loads as no conversations`, () => {
      const window = chatWindow({ before: (window) => window.localStorage.setItem("hybrid.chat.v1:chat", text) });
      assert.deepEqual(plain(window.hybridChat.history.storage("chat", true).load()), EMPTY);
    });
  }

  test("storage the page may not use: no conversations, and what the page holds stays in its memory", () => {
    const window = chatWindow({
      before: (window) =>
        Object.defineProperty(window, "localStorage", {
          get() {
            throw new window.DOMException("The operation is insecure.", "SecurityError");
          },
        }),
    });
    const chat = window.hybridChat.history.storage("chat", true);
    assert.deepEqual(plain(chat.load()), EMPTY);
    const state = { conversations: [conversation("c1", 1), conversation("c2", 2)], current: "c2" };
    chat.save(state);
    assert.deepEqual(
      state.conversations.map((c) => c.id),
      ["c1", "c2"],
    );
  });

  test("full storage forgets the oldest conversations, not the newest answer", () => {
    const big = (id, updated) => conversation(id, updated, [{ role: "user", content: id.repeat(600) }]);
    const window = chatWindow({ storageQuota: 2000 });
    const state = { conversations: [big("b", 2), big("d", 4), big("a", 1), big("c", 3)], current: "d" };
    window.hybridChat.history.storage("chat", true).save(state);
    const kept = JSON.parse(window.localStorage.getItem("hybrid.chat.v1:chat"));
    assert.deepEqual(
      kept.conversations.map((c) => c.id),
      ["d", "c"],
    );
    assert.deepEqual(
      state.conversations.map((c) => c.id),
      ["d", "c"],
    ); // the page forgets them too: what it shows is what a reload shows
  });

  test("a conversation larger than the storage is not kept, and saving does not fail", () => {
    const window = chatWindow({ storageQuota: 500 });
    const state = { conversations: [conversation("c1", 1, [{ role: "user", content: "x".repeat(1000) }])], current: "c1" };
    window.hybridChat.history.storage("chat", true).save(state);
    assert.equal(window.localStorage.getItem("hybrid.chat.v1:chat"), null);
    assert.equal(state.conversations.length, 1);
  });
});

describe("history off", () => {
  test("keeps conversations in this page's memory only, per Chat", () => {
    const window = chatWindow();
    const { storage } = window.hybridChat.history;
    const state = { conversations: [conversation("c1", 1)], current: "c1" };
    storage("private", false).save(state);
    assert.equal(window.localStorage.length, 0);
    assert.deepEqual(plain(storage("private", false).load()), state); // the Chat's element mounted again
    assert.deepEqual(plain(storage("other", false).load()), EMPTY);
    assert.deepEqual(plain(chatWindow().hybridChat.history.storage("private", false).load()), EMPTY); // a reload
  });

  test("ignores what localStorage holds for the same Chat", () => {
    const stored = JSON.stringify({ conversations: [conversation("c1", 1)], current: "c1" });
    const window = chatWindow({ before: (window) => window.localStorage.setItem("hybrid.chat.v1:chat", stored) });
    assert.deepEqual(plain(window.hybridChat.history.storage("chat", false).load()), EMPTY);
  });
});

describe("loading makes a kept state current", () => {
  /** `state` as the next page loads it. */
  function reloaded(state) {
    const text = JSON.stringify(state);
    const window = chatWindow({ before: (window) => window.localStorage.setItem("hybrid.chat.v1:chat", text) });
    return plain(window.hybridChat.history.storage("chat", true).load());
  }

  const resume = { head: { id: "a1", token: "t", url: "/chat/stream/a1" }, lastEventId: "12" };
  const tool = { type: "tool", id: "c1", name: "f", arguments: "{}", status: "running" };

  test("an answer streaming when the page closed, that the server may still have, stays streaming", () => {
    const streaming = answer({ status: "streaming", resume });
    const state = reloaded({ conversations: [conversation("c1", 1, [{ role: "user", content: "q" }, streaming])], current: "c1" });
    assert.deepEqual(state.conversations[0].messages[1], streaming);
  });

  test("one that cannot be resumed failed: closed before it finished, its unfinished calls stopped", () => {
    const orphan = answer({ status: "streaming", blocks: [tool] }); // no name on the server
    const elsewhere = answer({ status: "streaming", resume }); // not in the open conversation
    const state = reloaded({
      conversations: [
        conversation("c1", 1, [{ role: "user", content: "q" }, orphan]),
        conversation("c2", 2, [{ role: "user", content: "q" }, elsewhere]),
      ],
      current: "c1",
    });
    for (const { messages } of state.conversations) {
      const [, message] = messages;
      assert.equal(message.status, "error");
      assert.equal(message.error, "the page was closed before the answer finished");
      assert.equal(message.resume, undefined);
    }
    assert.equal(state.conversations[0].messages[1].blocks[0].status, "stopped");
  });

  test("an answer kept by an older version gets blocks", () => {
    const old = { role: "assistant", content: "text", reasoning: "thought", reasoningMs: 900, status: "done" };
    const state = reloaded({ conversations: [conversation("c1", 1, [{ role: "user", content: "q" }, old])], current: "c1" });
    assert.deepEqual(state.conversations[0].messages[1], {
      role: "assistant",
      content: "text",
      status: "done",
      blocks: [
        { type: "reasoning", text: "thought", ms: 900 },
        { type: "text", text: "text" },
      ],
    });
  });
});

describe("names and titles", () => {
  const { newId, titleOf } = chatWindow().hybridChat.history;

  test("a conversation's title is its first line, cut at 48 characters", () => {
    assert.equal(titleOf("  What is SSE?\nAnd more  "), "What is SSE?");
    assert.equal(titleOf("x".repeat(48)), "x".repeat(48));
    assert.equal(titleOf("x".repeat(49)), `${"x".repeat(47)}…`);
  });

  test("ids differ", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newId()));
    assert.equal(ids.size, 1000);
  });
});
