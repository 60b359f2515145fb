// A Chat's conversations as its controller holds them (`conversations.js`): asking starts or continues
// the open conversation, the list is newest first, and what a turn changes is kept.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chatWindow, plain } from "./chat-window.mjs";

/** A page's conversations for the Chat "chat", with history on, and the page. */
function fresh() {
  const window = chatWindow();
  return { window, conversations: new window.hybridChat.Conversations("chat", true) };
}

const kept = (window) => JSON.parse(window.localStorage.getItem("hybrid.chat.v1:chat"));

describe("conversations", () => {
  test("none is open at first", () => {
    const { conversations } = fresh();
    assert.equal(conversations.current(), null);
    assert.deepEqual(plain(conversations.list()), []);
  });

  test("the first question starts a conversation it titles, and opens it", () => {
    const { conversations } = fresh();
    const conversation = conversations.ask("What is SSE?\nIn short.");
    assert.equal(conversations.current(), conversation);
    assert.equal(conversation.title, "What is SSE?");
    assert.deepEqual(plain(conversation.messages), [{ role: "user", content: "What is SSE?\nIn short." }]);
    assert.equal(conversations.ask("And more?"), conversation); // the next one continues it
  });

  test("an answer begins streaming at the end of its conversation", () => {
    const { conversations } = fresh();
    const conversation = conversations.ask("q");
    const message = conversations.addAnswer(conversation);
    assert.equal(conversation.messages.at(-1), message);
    assert.equal(message.status, "streaming");
    assert.deepEqual(plain(message.blocks), []);
  });

  test("the list is newest first and marks the open one", () => {
    const { conversations } = fresh();
    const first = conversations.ask("first");
    conversations.open(null);
    const second = conversations.ask("second");
    first.updated = 1;
    second.updated = 2;
    assert.deepEqual(plain(conversations.list()), [
      { id: second.id, title: "second", current: true },
      { id: first.id, title: "first", current: false },
    ]);
    conversations.touch(first);
    assert.equal(conversations.list()[0].id, first.id);
  });

  test("removing the open conversation leaves none open", () => {
    const { conversations } = fresh();
    const first = conversations.ask("first");
    conversations.open(null);
    const second = conversations.ask("second");
    conversations.remove(first.id);
    assert.equal(conversations.current(), second);
    conversations.remove(second.id);
    assert.equal(conversations.current(), null);
    assert.deepEqual(plain(conversations.list()), []);
  });

  test("editing the first question retitles; truncating forgets what followed", () => {
    const { conversations } = fresh();
    const conversation = conversations.ask("old question");
    conversations.addAnswer(conversation);
    conversations.edit(conversation, 0, "new question");
    conversations.truncate(conversation, 1);
    assert.equal(conversation.title, "new question");
    assert.deepEqual(plain(conversation.messages), [{ role: "user", content: "new question" }]);
  });

  test("are kept when saved, and loaded by the next page", () => {
    const { window, conversations } = fresh();
    const conversation = conversations.ask("keep me");
    conversations.save();
    assert.equal(kept(window).current, conversation.id);
    const text = window.localStorage.getItem("hybrid.chat.v1:chat");
    const next = chatWindow({ before: (window) => window.localStorage.setItem("hybrid.chat.v1:chat", text) });
    const again = new next.hybridChat.Conversations("chat", true);
    assert.deepEqual(plain(again.current()), plain(conversation));
  });
});
