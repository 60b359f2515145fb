// Markdown for model output (`markdown.js`): untrusted HTML and links stay inert, and a streaming answer
// renders each finished block once, re-rendering only the block still growing.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chatWindow, frames } from "./chat-window.mjs";

const window = chatWindow();
const { render, StreamView } = window.hybridChat.markdown;

/** `html` as nodes, to look at. */
function nodes(html) {
  const box = window.document.createElement("div");
  box.innerHTML = html;
  return box;
}

const hrefs = (box) => [...box.querySelectorAll("a")].map((a) => a.getAttribute("href"));

describe("untrusted markdown stays inert", () => {
  test("raw HTML is shown as text, never parsed", () => {
    const box = nodes(render('<script>alert(1)</script>\n\n<img src=x onerror="alert(2)"> <b onclick="x()">b</b>'));
    assert.equal(box.querySelectorAll("script, img, b").length, 0);
    assert.match(box.textContent, /<script>alert\(1\)<\/script>/);
    assert.match(box.textContent, /<img src=x onerror="alert\(2\)">/);
  });

  test("javascript:, vbscript: and data: links are not links", () => {
    const box = nodes(
      render(
        "[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c]( javascript:alert(1)) [d](vbscript:x) " +
          "[e](data:text/html,<script>alert(1)</script>) <javascript:alert(1)>\n\n[f]: javascript:alert(1)\n\n[f]",
      ),
    );
    assert.deepEqual(hrefs(box), []);
    assert.match(box.textContent, /\[a\]\(javascript:alert\(1\)\)/); // kept as the text it was
  });

  test("http(s), mailto and relative links stay links, opened apart from the page", () => {
    const box = nodes(render("[a](https://example.com/x) [b](mailto:me@example.com) [c](/docs) http://example.org"));
    assert.deepEqual(hrefs(box), ["https://example.com/x", "mailto:me@example.com", "/docs", "http://example.org"]);
    for (const link of box.querySelectorAll("a")) {
      assert.equal(link.getAttribute("target"), "_blank");
      assert.equal(link.getAttribute("rel"), "noopener noreferrer nofollow");
    }
  });

  test("an image is a plain link to it, never loaded", () => {
    const box = nodes(render('![a "chart"](https://example.com/leak?data=secret)'));
    assert.equal(box.querySelectorAll("img").length, 0);
    assert.deepEqual(hrefs(box), ["https://example.com/leak?data=secret"]);
    assert.equal(box.textContent.trim(), '🖼 a "chart"');
  });

  test("a code block's language cannot break out of its class", () => {
    const box = nodes(render('```js" onmouseover="alert(1)\nlet x = 1;\n```'));
    const code = box.querySelector("code");
    assert.equal(code.getAttribute("onmouseover"), null);
    assert.equal(code.className, "hljs"); // not a language name: plain
    assert.equal(code.textContent, "let x = 1;\n");
  });

  test("[DONE] and [1] without a definition stay literal text", () => {
    assert.equal(nodes(render("[DONE] and [1]")).textContent.trim(), "[DONE] and [1]");
  });
});

describe("a streaming answer", () => {
  const paragraphs = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} with **bold** words and a [link](https://example.com/${i}).`);

  /** A view of `paragraphs` streamed one by one, a frame each: the view, and the first block's node as
   * each frame left it. */
  async function streamed() {
    const box = window.document.createElement("div");
    const view = new StreamView(box);
    const firsts = [];
    let text = "";
    for (const paragraph of paragraphs) {
      text += `${paragraph}\n\n`;
      view.update(text);
      await frames(window, 2);
      firsts.push(view.settled.firstChild);
    }
    return { box, view, text, firsts };
  }

  test("renders each finished block once; only the growing block renders again", async () => {
    const { view, text, firsts } = await streamed();
    // From the second paragraph on, the first is finished: the same node, never rendered again.
    assert.ok(firsts[1]);
    for (const node of firsts.slice(1)) assert.equal(node, firsts[1]);
    assert.equal(view.settled.children.length, paragraphs.length - 1);
    assert.equal(view.tail.children.length, 1); // the last paragraph only
    assert.match(view.tail.textContent, /Paragraph 11/);
    // Each frame parsed the growing block and the one just finished: linear in the answer's length.
    assert.ok(view.parsedChars < 2.5 * text.length, `${view.parsedChars} parsed for ${text.length}`);
  });

  test("finishing renders the rest and what it shows equals a whole render", async () => {
    const { box, view, text } = await streamed();
    const settled = [...view.settled.childNodes];
    view.finish(text);
    for (const node of settled) assert.ok(box.contains(node), "a finished block was rendered again");
    const whole = nodes(render(text));
    assert.equal(box.textContent.replace(/\s+/g, " ").trim(), whole.textContent.replace(/\s+/g, " ").trim());
    assert.deepEqual(hrefs(box), hrefs(whole));
  });

  test("a code block is highlighted once it is finished, not while it grows", async () => {
    const box = window.document.createElement("div");
    const view = new StreamView(box);
    const text = "```python\ndef answer():\n    return 42\n";
    view.update(text);
    await frames(window, 2);
    assert.equal(box.querySelectorAll("code [class^=hljs-]").length, 0);
    assert.match(box.querySelector("code").textContent, /def answer/);
    view.finish(`${text}\`\`\`\n`);
    assert.ok(box.querySelectorAll("code [class^=hljs-]").length > 0);
  });

  test("a link definition at the end re-renders only the finished blocks that name it", async () => {
    const box = window.document.createElement("div");
    const view = new StreamView(box);
    const blocks = ["See [the spec] first.", "Nothing to link here.", "And [The  Spec] again.", "Last words."];
    let text = "";
    for (const block of blocks) {
      text += `${block}\n\n`;
      view.update(text);
      await frames(window, 2);
    }
    const [first, plain, again] = view.settled.children;
    view.finish(`${text}[the spec]: https://example.com/spec\n`);
    assert.deepEqual(hrefs(box), ["https://example.com/spec", "https://example.com/spec"]);
    assert.ok(box.contains(plain), "a block that does not name the label was rendered again");
    assert.ok(!box.contains(first) && !box.contains(again), "the blocks naming the label were not");
  });
});
