/* An answer's blocks. An assistant message is an ordered list of blocks, shown in the order they streamed:
 *
 *   {type: "reasoning", text, ms}   the model's thinking: a foldable "Thinking" section (`details.reasoning`)
 *   {type: "text", text}            markdown (`.message-body`)
 *   {type: "tool", id, name, arguments, status, output, seconds}
 *                                   a tool call's card (`details.tool-call`); `status` is "streaming" (its
 *                                   arguments are being written), "running", "done", "error", "not-run"
 *                                   (the answer ended before it ran) or "stopped" (the user stopped it)
 *
 * The message's `content` is its text blocks joined by a blank line: what Copy gives, and what the model is
 * sent next turn (the cards are for the reader; the model gets the text only).
 *
 * `AnswerView` builds a streaming answer from its stream, one call per text delta (`text`) or block event
 * (`event`: reasoning, tool_call_delta, tool_call, tool_result), into the message and the DOM at once, so
 * feeding the same events to a new view rebuilds the same answer. `render` draws a finished answer from
 * the history. Everything the model or a tool produced reaches the page as text (`textContent`) or as
 * sanitised markdown (`markdown.js`), never as HTML. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});
  const element = (...args) => hybrid.dom.element(...args);

  const TOOL_STATES = {
    streaming: () => "writing…",
    running: () => "running…",
    done: (block) => secondsText(block.seconds),
    error: (block) => `failed · ${secondsText(block.seconds)}`,
    "not-run": () => "not run",
    stopped: () => "stopped",
  };
  const UNFINISHED = new Set(["streaming", "running"]);
  const EVENTS = new Set(["reasoning", "tool_call_delta", "tool_call", "tool_result"]);

  function secondsText(seconds) {
    const value = Number(seconds) || 0;
    return `${value < 10 ? value.toFixed(2) : Math.round(value)} s`;
  }

  function thoughtFor(ms) {
    return `Thought for ${ms < 10000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s`;
  }

  const asText = (value) => (typeof value === "string" ? value : value == null ? "" : String(value));

  function textElement() {
    return element("div", { class: "message-body markdown" });
  }

  /** The foldable "Thinking" section: open while the model thinks, folded after. */
  function reasoningElement(open, summary) {
    const details = element("details", { class: "reasoning" });
    details.open = open;
    details.append(element("summary", {}, summary));
    const content = element("div", { class: "reasoning-body markdown" });
    details.append(content);
    return { details, content };
  }

  /** A tool call's card: name and state in its summary; inside, the arguments as the model wrote them,
   * then the result as the model is sent it. */
  function toolCard(block, open) {
    const details = element("details", { class: "tool-call" });
    details.open = open;
    const summary = element("summary");
    const name = element("span", { class: "tool-name" });
    const state = element("span", { class: "tool-state" });
    summary.append(name, " ", state);
    const args = document.createTextNode(block.arguments);
    const argsBox = element("pre", { class: "tool-arguments" });
    argsBox.append(args);
    const output = element("pre", { class: "tool-output" });
    const result = element("div", { class: "tool-result" });
    result.append(element("div", { class: "tool-label" }, "Result"), output);
    details.append(summary, element("div", { class: "tool-label" }, "Arguments"), argsBox, result);
    const card = { block, details, name, state, args, output, result };
    showCard(card);
    return card;
  }

  /** Show what the card's block says now (the arguments as they grow are appended by `AnswerView`). */
  function showCard(card) {
    const { block } = card;
    card.details.dataset.status = block.status;
    card.name.textContent = block.name || "tool";
    card.state.textContent = (TOOL_STATES[block.status] || TOOL_STATES["not-run"])(block);
    card.result.hidden = block.output == null;
    if (block.output != null) card.output.textContent = block.output;
  }

  /** Draw the finished answer `message` (from the history) into `container`. */
  function render(container, message) {
    const nodes = message.blocks.map((block) => {
      if (block.type === "reasoning") {
        const { details, content } = reasoningElement(false, thoughtFor(block.ms || 0));
        content.innerHTML = hybrid.markdown.render(block.text);
        return details;
      }
      if (block.type === "tool") {
        return toolCard(block, false).details;
      }
      const body = textElement();
      body.innerHTML = hybrid.markdown.render(block.text);
      return body;
    });
    container.replaceChildren(...(nodes.length ? nodes : [textElement()]));
  }

  class AnswerView {
    /** Stream the answer `message` (its `blocks` empty) into `container`; `onChange()` after each change
     * that moves the page (to keep it scrolled). */
    constructor(container, message, onChange) {
      this.container = container;
      this.message = message;
      this.onChange = onChange;
      this.pending = textElement(); // where the next text block goes: a placeholder until it starts
      container.replaceChildren(this.pending);
      this.writing = null; // the text block growing now: {block, view}
      this.thinking = null; // the reasoning block growing now: {block, details, view, startedAt}
      // Tool call id -> its card, until its result: a model's call ids are only unique within a round (the
      // demo's are `call_demo_0` each time), so the same id after a result is a new call with a card of its own.
      this.cards = new Map();
    }

    /** A view of the answer `message` that carries on from the blocks it holds (kept when its page left
     * mid-answer): they are drawn as the stream first drew them, fed back as events. */
    static continuing(container, message, onChange) {
      const kept = message.blocks;
      Object.assign(message, { blocks: [], content: "" });
      const view = new AnswerView(container, message, onChange);
      for (const block of kept) view.replay(block);
      return view;
    }

    replay(block) {
      if (block.type === "text") this.text(block.text);
      else if (block.type === "reasoning") {
        this.reasoning(block.text);
        if (this.thinking) this.thinking.startedAt -= block.ms || 0; // it had thought that long already
      } else if (block.status === "streaming") this.toolDelta(block);
      else {
        this.toolCall(block);
        if (block.output != null) this.toolResult({ ...block, error: block.status === "error" });
      }
    }

    /** A text delta of the answer. */
    text(delta) {
      this.foldThinking();
      if (!this.writing) {
        const block = { type: "text", text: "" };
        if (this.message.blocks.some((b) => b.type === "text")) this.message.content += "\n\n";
        this.message.blocks.push(block);
        const view = new hybrid.markdown.StreamView(this.pending);
        view.onRender = this.onChange;
        this.writing = { block, view };
        this.pending = null;
      }
      this.writing.block.text += delta;
      this.message.content += delta;
      this.writing.view.update(this.writing.block.text);
    }

    /** One of the stream's named `EVENTS`. */
    event(name, data) {
      if (name === "reasoning") this.reasoning(asText(data));
      else if (name === "tool_call_delta") this.toolDelta(data);
      else if (name === "tool_call") this.toolCall(data);
      else if (name === "tool_result") this.toolResult(data);
    }

    reasoning(delta) {
      if (!delta) return;
      if (!this.thinking) {
        const block = { type: "reasoning", text: "", ms: 0 };
        const { details, content } = reasoningElement(true, "Thinking…");
        this.insert(block, details);
        const view = new hybrid.markdown.StreamView(content);
        view.onRender = this.onChange;
        this.thinking = { block, details, view, startedAt: performance.now() };
      }
      this.thinking.block.text += delta;
      this.thinking.view.update(this.thinking.block.text);
    }

    toolDelta(data) {
      const card = this.card(data);
      if (!card) return;
      const piece = asText(data.arguments);
      card.block.arguments += piece;
      card.args.appendData(piece);
      this.onChange();
    }

    toolCall(data) {
      const card = this.card(data);
      if (!card) return;
      card.block.arguments = asText(data.arguments);
      card.args.data = card.block.arguments; // as the model wrote them: the pieces, or (without) all at once
      card.block.status = "running";
      showCard(card);
      this.onChange();
    }

    toolResult(data) {
      const card = this.card(data);
      if (!card) return;
      Object.assign(card.block, {
        status: data.error ? "error" : "done",
        output: asText(data.output),
        seconds: Number(data.seconds) || 0,
      });
      showCard(card);
      card.details.open = false;
      this.cards.delete(data.id);
      this.onChange();
    }

    /** The card of the call `data.id` still waiting for its result, made when the call is first heard of;
     * null without an id. */
    card(data) {
      if (!data || typeof data.id !== "string" || !data.id) return null;
      this.foldThinking();
      let card = this.cards.get(data.id);
      if (!card) {
        const block = { type: "tool", id: data.id, name: "", arguments: "", status: "streaming" };
        card = toolCard(block, true);
        this.insert(block, card.details);
        this.cards.set(data.id, card);
      }
      if (!card.block.name && data.name) {
        card.block.name = asText(data.name);
        showCard(card);
      }
      return card;
    }

    /** Put a new (non-text) block after everything so far: the text before it is finished. */
    insert(block, node) {
      this.finishText();
      if (!this.pending) {
        this.pending = textElement();
        this.container.append(this.pending);
      }
      this.message.blocks.push(block);
      this.container.insertBefore(node, this.pending);
      this.onChange();
    }

    finishText() {
      if (!this.writing) return;
      this.writing.view.finish(this.writing.block.text);
      this.writing = null;
    }

    /** Something else started (or the answer ended): fold the thinking, and say how long it took. */
    foldThinking() {
      const thinking = this.thinking;
      if (!thinking) return;
      this.thinking = null;
      thinking.view.finish(thinking.block.text);
      thinking.block.ms = Math.round(performance.now() - thinking.startedAt);
      thinking.details.open = false;
      thinking.details.querySelector("summary").textContent = thoughtFor(thinking.block.ms);
    }

    /** The answer ended (`stopped` by the user, or not): cards still waiting for a result say they did
     * not run. */
    end(stopped) {
      this.finishText();
      this.foldThinking();
      for (const card of this.cards.values()) {
        if (!UNFINISHED.has(card.block.status)) continue;
        card.block.status = stopped ? "stopped" : "not-run";
        showCard(card);
      }
      if (this.pending && this.message.blocks.length) this.pending.remove();
      this.pending = null;
    }
  }

  /** Blocks for an answer kept by an older version (`content` and `reasoning` fields). */
  function legacyBlocks(message) {
    const blocks = [];
    if (message.reasoning) blocks.push({ type: "reasoning", text: message.reasoning, ms: message.reasoningMs || 0 });
    if (message.content) blocks.push({ type: "text", text: message.content });
    return blocks;
  }

  /** An answer the page stopped showing mid-stream (closed, reloaded): its unfinished cards stopped. */
  function interrupted(message) {
    for (const block of message.blocks) if (block.type === "tool" && UNFINISHED.has(block.status)) block.status = "stopped";
  }

  hybrid.blocks = { AnswerView, EVENTS, render, legacyBlocks, interrupted };
})();
