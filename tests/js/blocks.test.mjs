// An answer's blocks (`blocks.js`): built from the stream's events in the order they came, drawn the same
// from the history, and what the model or a tool wrote reaches the page as text, never as HTML.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chatWindow, plain } from "./chat-window.mjs";

const window = chatWindow();
const { AnswerView, render, legacyBlocks, interrupted } = window.hybridChat.blocks;

const EVIL = '<img src=x onerror="alert(1)"><script>alert(2)</script>';

/** A new answer message, and a view streaming it into a new box; `changes` counts the view's calls to
 * keep the page scrolled. */
function streaming() {
  const message = { role: "assistant", content: "", blocks: [] };
  const box = window.document.createElement("div");
  const changes = { count: 0 };
  const view = new AnswerView(box, message, () => (changes.count += 1));
  return { message, box, view, changes };
}

const shown = (box) => [...box.children].map((node) => `${node.className}:${node.dataset.status || ""}`);

/** An answer that thought, wrote, called a tool, and wrote again. */
function feedAnswer(view) {
  view.event("reasoning", "Which *tool*?");
  view.text("Let me ");
  view.text("look.");
  view.event("tool_call_delta", { id: "c1", name: "lookup", arguments: '{"q": ' });
  view.event("tool_call_delta", { id: "c1", arguments: '"x"}' });
  view.event("tool_call", { id: "c1", name: "lookup", arguments: '{"q": "x"}' });
  view.event("tool_result", { id: "c1", name: "lookup", output: "found x", error: false, seconds: 0.25 });
  view.text("It is x.");
  view.end(false);
}

describe("a streaming answer's blocks", () => {
  test("come in the order the stream sent them, in the message and on the page", () => {
    const { message, box, view, changes } = streaming();
    feedAnswer(view);
    assert.deepEqual(
      message.blocks.map((block) => block.type),
      ["reasoning", "text", "tool", "text"],
    );
    assert.deepEqual(shown(box), ["reasoning:", "message-body markdown:", "tool-call:done", "message-body markdown:"]);
    assert.equal(message.content, "Let me look.\n\nIt is x."); // the text blocks: what Copy gives
    assert.deepEqual(plain(message.blocks[2]), {
      type: "tool",
      id: "c1",
      name: "lookup",
      arguments: '{"q": "x"}',
      status: "done",
      output: "found x",
      seconds: 0.25,
    });
    assert.ok(changes.count > 0);
  });

  test("the thinking folds, and says how long it took, once something else starts", () => {
    const { box, view } = streaming();
    view.event("reasoning", "hmm");
    const details = box.querySelector("details.reasoning");
    assert.equal(details.open, true);
    view.text("Answer.");
    assert.equal(details.open, false);
    assert.match(details.querySelector("summary").textContent, /^Thought for \d+\.\d s$/);
  });

  test("a tool call the answer ended before says it did not run, or that it was stopped", () => {
    for (const [stopped, status] of [
      [false, "not-run"],
      [true, "stopped"],
    ]) {
      const { message, box, view } = streaming();
      view.event("tool_call", { id: "c1", name: "slow", arguments: "{}" });
      view.end(stopped);
      assert.equal(message.blocks[0].status, status);
      assert.equal(box.querySelector(".tool-call").dataset.status, status);
    }
  });

  test("the same call id after its result is a new call with a card of its own", () => {
    const { message, view } = streaming();
    for (const output of ["one", "two"]) {
      view.event("tool_call", { id: "call_0", name: "f", arguments: "{}" });
      view.event("tool_result", { id: "call_0", name: "f", output, seconds: 0 });
    }
    assert.deepEqual(
      message.blocks.map((block) => block.output),
      ["one", "two"],
    );
  });

  test("drawn from the history, the finished answer looks as it streamed", () => {
    const { message, box, view } = streaming();
    feedAnswer(view);
    const again = window.document.createElement("div");
    render(again, JSON.parse(JSON.stringify(message)));
    assert.deepEqual(shown(again), shown(box));
    assert.equal(again.textContent, box.textContent);
  });

  test("a view carrying on from kept blocks rebuilds the same answer", () => {
    const whole = streaming();
    feedAnswer(whole.view);
    const early = streaming();
    early.view.event("reasoning", "Which *tool*?");
    early.view.text("Let me look.");
    early.view.event("tool_call", { id: "c1", name: "lookup", arguments: '{"q": "x"}' });
    const kept = JSON.parse(JSON.stringify(early.message));
    const box = window.document.createElement("div");
    const view = AnswerView.continuing(box, kept, () => {});
    view.event("tool_result", { id: "c1", name: "lookup", output: "found x", error: false, seconds: 0.25 });
    view.text("It is x.");
    view.end(false);
    const withoutTimes = (message) => JSON.stringify(message, (key, value) => (key === "ms" ? undefined : value));
    assert.equal(withoutTimes(kept), withoutTimes(whole.message));
    assert.deepEqual(shown(box), shown(whole.box));
  });
});

describe("what the model or a tool wrote stays inert", () => {
  test("tool names, arguments and results are text", () => {
    const { box, view } = streaming();
    view.event("tool_call_delta", { id: "c1", name: EVIL, arguments: EVIL });
    view.event("tool_call", { id: "c1", name: EVIL, arguments: EVIL });
    view.event("tool_result", { id: "c1", name: EVIL, output: EVIL, error: true, seconds: 1 });
    view.end(false);
    assert.equal(box.querySelectorAll("img, script").length, 0);
    assert.equal(box.querySelector(".tool-name").textContent, EVIL);
    assert.equal(box.querySelector(".tool-arguments").textContent, EVIL);
    assert.equal(box.querySelector(".tool-output").textContent, EVIL);
  });

  test("text and thinking are sanitised markdown: no HTML, no javascript: links", () => {
    const { box, view } = streaming();
    view.event("reasoning", `${EVIL} [r](javascript:alert(3))`);
    view.text(`${EVIL}\n\n[t](javascript:alert(4)) <a href="javascript:alert(5)">raw</a>`);
    view.end(false);
    assert.equal(box.querySelectorAll("img, script").length, 0);
    assert.equal(box.querySelectorAll("a").length, 0);
    assert.match(box.textContent, /<img src=x onerror="alert\(1\)">/);
  });

  test("so is an answer drawn from the history", () => {
    const box = window.document.createElement("div");
    const message = {
      role: "assistant",
      blocks: [
        { type: "reasoning", text: EVIL, ms: 10 },
        { type: "tool", id: "c1", name: EVIL, arguments: EVIL, status: "done", output: EVIL, seconds: 1 },
        { type: "text", text: `${EVIL} [x](javascript:alert(1))` },
      ],
    };
    render(box, message);
    assert.equal(box.querySelectorAll("img, script, a").length, 0);
    assert.equal(box.querySelector(".tool-output").textContent, EVIL);
  });
});

describe("older and interrupted answers", () => {
  test("an answer kept by an older version (content and reasoning) gets blocks", () => {
    assert.deepEqual(plain(legacyBlocks({ content: "text", reasoning: "thought", reasoningMs: 1200 })), [
      { type: "reasoning", text: "thought", ms: 1200 },
      { type: "text", text: "text" },
    ]);
    assert.deepEqual(plain(legacyBlocks({ content: "" })), []);
  });

  test("an answer the page stopped showing mid-stream has its unfinished calls stopped", () => {
    const message = {
      blocks: [
        { type: "tool", status: "streaming" },
        { type: "tool", status: "running" },
        { type: "tool", status: "done" },
        { type: "text", text: "" },
      ],
    };
    interrupted(message);
    assert.deepEqual(
      message.blocks.map((block) => block.status),
      ["stopped", "stopped", "done", undefined],
    );
  });
});
