// A Chat's controller (`chat.js`) with its parts: the conversations, the view, the composer and one
// answer at a time, started by `mount.js` on the Chat's element as Dash renders it. The answer's stream
// is played here (`hybridChat.openStream` replaced): its HTTP and SSE have tests of their own, and the
// browser tests (`tests/dash`) run the whole against a real server.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chatWindow, plain } from "./chat-window.mjs";

const CONFIG = { id: "chat", ticketRequest: "chat--ticket-request", history: true, examples: ["Say hi"] };

/** The Chat's markup as `component.py` renders it (the parts the controller uses). */
const skeleton = (config = CONFIG) => `
  <div id="${config.id}" class="hybrid-chat" data-config='${JSON.stringify(config)}'>
    <section class="chat-conversation"></section>
    <textarea class="chat-prompt"></textarea>
    <button class="chat-send" type="button">Send</button>
    <button class="chat-stop" type="button" disabled>Stop</button>
    <button class="chat-new" type="button">New chat</button>
  </div>`;

/** A page with one Chat, whose answers' streams the test plays: `streams` gets `{ticket, handlers,
 * options, stopped}` per answer asked. */
function page() {
  const window = chatWindow({ html: skeleton() });
  const streams = [];
  window.hybridChat.openStream = (ticket, handlers, options) => {
    const stream = { ticket, handlers, options, stopped: false, lastEventId: "" };
    stream.stop = () => {
      stream.stopped = true;
      handlers.end({ stopped: true });
    };
    streams.push(stream);
    return stream;
  };
  const root = window.document.getElementById("chat");
  const $ = (selector) => root.querySelector(selector);
  const $$ = (selector) => [...root.querySelectorAll(selector)];
  const press = (target, key, init = {}) => target.dispatchEvent(new window.KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init }));
  const ask = (text) => {
    $(".chat-prompt").value = text;
    press($(".chat-prompt"), "Enter");
  };
  const kept = () => JSON.parse(window.localStorage.getItem("hybrid.chat.v1:chat"));
  return { window, root, streams, $, $$, press, ask, kept };
}

describe("a Chat's controller", () => {
  test("starts on the Chat's element, showing the empty state with its examples", () => {
    const { root, $ } = page();
    assert.ok(root.hybridChat);
    assert.equal($(".empty-state h2").textContent, "What can I help with?");
    assert.equal($(".empty-state .example-prompt").textContent, "Say hi");
  });

  test("Enter sends the question; the answer streams, then ends done, with its footer", () => {
    const { $, $$, streams, ask, kept } = page();
    ask("What is SSE?");
    assert.equal($(".chat-prompt").value, "");
    assert.equal(streams.length, 1);
    assert.deepEqual($$(".message").map((article) => article.dataset.status), ["done", "streaming"]);
    assert.equal($(".chat-send").disabled, true);
    assert.equal($(".chat-stop").disabled, false);

    const { handlers } = streams[0];
    handlers.event("meta", { model: "demo-model" });
    handlers.text("Server-Sent ");
    handlers.text("Events.");
    handlers.event("completion", { completion_tokens: 3 });
    handlers.end({ done: true });

    const answer = $(".assistant-message");
    assert.equal(answer.dataset.status, "done");
    assert.equal(answer.querySelector(".message-body").textContent.trim(), "Server-Sent Events.");
    assert.match(answer.querySelector(".message-footer").textContent, /^demo-model · TTFT \d+ ms · 3 tokens/);
    assert.equal(answer.querySelector(".message-blocks").getAttribute("aria-busy"), "false");
    assert.equal($(".chat-send").disabled, false);
    assert.equal($(".chat-stop").disabled, true);
    const [conversation] = kept().conversations;
    assert.equal(conversation.title, "What is SSE?");
    assert.deepEqual(
      conversation.messages.map(({ role, content, status }) => [role, content, status]),
      [
        ["user", "What is SSE?", undefined],
        ["assistant", "Server-Sent Events.", "done"],
      ],
    );
  });

  test("the ticket is asked for the conversation before the answer", async () => {
    const { window, streams, ask } = page();
    const set = [];
    window.dash_clientside.set_props = (id, props) => set.push([id, props.data.body]);
    ask("first");
    const stop = new window.AbortController();
    const ticket = streams[0].ticket(stop.signal);
    assert.deepEqual(plain(set), [["chat--ticket-request", { messages: [{ role: "user", content: "first" }] }]]);
    stop.abort();
    await assert.rejects(ticket, { message: "stopped" });
  });

  test("an answer's page changes never inject HTML or script, unless the Chat allows the prop", () => {
    const { window, streams, ask } = page();
    const set = [];
    window.dash_clientside.set_props = (id, props) => set.push([id, props]);
    window.console.warn = () => {};
    ask("change the page");
    const { event } = streams[0].handlers;
    event("set_props", { id: "out", props: { children: "plain text, javascript: as words" } });
    event("set_props", { id: "frame", props: { srcDoc: "<form>password?</form>" } });
    event("set_props", { id: "box", props: { children: [{ props: { dangerouslySetInnerHTML: { __html: "<b>" } } }] } });
    event("set_props", { id: "link", props: { href: " Java\tScript:alert(1)" } });
    event("set_props", { id: "img", props: { src: "data:text/html;base64,PHNjcmlwdD4=" } });
    event("set_props", { id: "link", props: { href: "https://example.com" } });
    assert.deepEqual(plain(set), [
      ["out", { children: "plain text, javascript: as words" }],
      ["link", { href: "https://example.com" }],
    ]);
  });

  test("a Chat's allow_props lets the props it names through", () => {
    const { hybridChat } = chatWindow();
    const { unsafeProp } = hybridChat.pageProps;
    assert.equal(unsafeProp({ dangerously_allow_html: true }), "dangerously_allow_html");
    assert.equal(unsafeProp({ dangerously_allow_html: true }, ["dangerously_allow_html"]), null);
    assert.equal(unsafeProp({ dangerously_allow_html: false }), null);
    assert.equal(unsafeProp({ href: "vbscript:x" }, ["href"]), null);
  });

  test("Shift+Enter and Enter while composing do not send", () => {
    const { $, streams, press } = page();
    $(".chat-prompt").value = "two\nlines";
    press($(".chat-prompt"), "Enter", { shiftKey: true });
    press($(".chat-prompt"), "Enter", { isComposing: true });
    assert.equal(streams.length, 0);
    assert.equal($(".chat-prompt").value, "two\nlines");
  });

  test("a question waits while an answer streams: the prompt keeps it", () => {
    const { $, streams, ask } = page();
    ask("first");
    ask("second");
    assert.equal(streams.length, 1);
    assert.equal($(".chat-prompt").value, "second");
  });

  test("Stop stops the answer: it says so and keeps what came", () => {
    const { $, streams, ask } = page();
    ask("long one");
    streams[0].handlers.text("Partial");
    $(".chat-stop").click();
    assert.equal(streams[0].stopped, true);
    assert.equal($(".assistant-message").dataset.status, "stopped");
    assert.equal($(".assistant-message .message-status").textContent, "Stopped");
  });

  test("a failed answer shows why, and Retry asks again in its place", () => {
    const { $, $$, streams, ask } = page();
    ask("q");
    streams[0].handlers.end({ error: "the server could not be reached" });
    assert.match($(".message-error").textContent, /The answer failed: the server could not be reached\./);
    $(".message-error .retry").click();
    assert.equal(streams.length, 2);
    assert.deepEqual($$(".message").map((article) => article.dataset.status), ["done", "streaming"]);
  });

  test("editing the question sends the edited one, with a new answer", () => {
    const { window, $, $$, streams, ask, kept } = page();
    ask("old question");
    streams[0].handlers.text("old answer");
    streams[0].handlers.end({ done: true });
    $(".user-message .edit").click();
    const input = $(".edit-input");
    assert.equal(input.value, "old question");
    input.value = "new question";
    input.dispatchEvent(new window.KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    assert.equal(streams.length, 2);
    assert.deepEqual($$(".message-body").map((body) => body.textContent), ["new question", ""]);
    assert.equal(kept().conversations[0].title, "new question");
  });

  test("New chat empties the view; the conversations stay listed, newest first", () => {
    const { root, $, streams, ask } = page();
    const changes = [];
    root.addEventListener("hybrid-chat:change", (event) => changes.push(event.detail.chat));
    ask("first");
    streams[0].handlers.end({ done: true });
    $(".chat-new").click();
    assert.ok($(".empty-state"));
    ask("second");
    streams[1].handlers.end({ done: true });
    assert.deepEqual(
      plain(root.hybridChat.conversations().map(({ title, current }) => [title, current])),
      [
        ["second", true],
        ["first", false],
      ],
    );
    assert.ok(changes.length > 0 && changes.every((chat) => chat === root.hybridChat));
  });

  test("its element mounted again mid-answer: the answer and an unsent question move in", async () => {
    const { window, root, streams, ask } = page();
    const controller = root.hybridChat;
    ask("keep streaming");
    streams[0].handlers.text("first half");
    root.querySelector(".chat-prompt").value = "not sent yet";
    root.remove(); // a tab closed
    await new Promise((resolve) => setTimeout(resolve, 0)); // mount.js sees it go
    window.document.body.insertAdjacentHTML("beforeend", skeleton()); // and opened again
    await new Promise((resolve) => setTimeout(resolve, 0));
    const again = window.document.getElementById("chat");
    assert.equal(again.hybridChat, controller);
    assert.equal(again.querySelector(".chat-prompt").value, "not sent yet");
    assert.equal(again.querySelector(".chat-stop").disabled, false);
    streams[0].handlers.text(", second half");
    streams[0].handlers.end({ done: true });
    const answer = again.querySelector(".assistant-message");
    assert.equal(answer.dataset.status, "done");
    assert.equal(answer.querySelector(".message-body").textContent.trim(), "first half, second half");
  });
});
