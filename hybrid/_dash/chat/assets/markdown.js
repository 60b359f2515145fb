/* Markdown for model output: CommonMark + GitHub tables (markdown-it), sanitised (DOMPurify), code
 * highlighted (highlight.js). Model output is untrusted: raw HTML is escaped, only http(s)/mailto and
 * relative links survive, and images become plain links (a remote image would load without a click and
 * can leak data through its URL).
 *
 * `StreamView` renders a growing answer in time linear in its length: finished top-level blocks are
 * rendered once and appended; only the last, still-growing block is re-rendered, at most once per
 * animation frame (less often when rendering gets expensive). A code block still growing is not highlighted
 * (it is once it is finished): each render says so in markdown-it's `env`, so no shared state changes.
 * A link reference definition may turn `[text]` anywhere in the answer into a link, so when the answer
 * ends holding one, the finished blocks that may use its label are rendered again, and only those. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const SAFE_SCHEME = /^(https?|mailto):/i;
  const ANY_SCHEME = /^[a-z][a-z0-9+.-]*:/i;
  const LANGUAGE = /^[\w+#.-]{1,32}$/;
  const md = parser();
  const purify = sanitizer();

  function escape(text) {
    return md.utils.escapeHtml(text);
  }

  /** Highlighted HTML of `code`, or "" for plain (escaped) text: unknown language, or `env.highlight`
   * is false (the block is still growing). */
  function highlight(code, language, env) {
    const hljs = window.hljs;
    if (env.highlight === false || !hljs || !language || !hljs.getLanguage(language)) return "";
    try {
      return hljs.highlight(code, { language, ignoreIllegals: true }).value;
    } catch {
      return "";
    }
  }

  function parser() {
    const parse = window.markdownit({ html: false, linkify: true, typographer: false });
    parse.validateLink = (url) => {
      const trimmed = url.trim();
      return !ANY_SCHEME.test(trimmed) || SAFE_SCHEME.test(trimmed);
    };
    parse.renderer.rules.fence = (tokens, index, options, env) => {
      const token = tokens[index];
      const info = token.info.trim().split(/\s+/)[0];
      const language = LANGUAGE.test(info) ? info : "";
      const body = highlight(token.content, language, env) || escape(token.content);
      const label = language ? escape(language) : "code"; // drawn by CSS: not part of the answer's text
      const klass = language ? ` class="hljs language-${escape(language)}"` : ' class="hljs"';
      return (
        `<div class="code-block"><div class="code-head"><span class="quiet-label" data-label="${label}"></span>` +
        `<button type="button" class="copy-code quiet-label" data-action="copy-code" data-label="Copy" aria-label="Copy code"></button></div>` +
        // Focusable, so a code block wider than the answer can be scrolled from the keyboard.
        `<pre tabindex="0"><code${klass}>${body}</code></pre></div>\n`
      );
    };
    parse.renderer.rules.image = (tokens, index) => {
      const token = tokens[index];
      const alt = escape(token.content || "image");
      return `<a href="${escape(token.attrGet("src"))}">🖼 ${alt}</a>`;
    };
    return parse;
  }

  /** A DOMPurify instance of this script's own, so its hook leaves other users of DOMPurify alone. */
  function sanitizer() {
    const instance = window.DOMPurify(window);
    instance.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
    return instance;
  }

  const PURIFY = {
    ALLOWED_URI_REGEXP: /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i,
    FORBID_TAGS: ["style", "img", "svg", "math", "form", "input", "iframe"],
  };

  function sanitize(html) {
    return purify.sanitize(html, PURIFY);
  }

  /** Sanitised HTML of a whole markdown text (history, finished answers). */
  function render(text) {
    return sanitize(md.render(text));
  }

  // A line that may start a link reference definition: a cheap test before parsing for definitions.
  const REFERENCE_DEFINITION = /^ {0,3}\[[^\]]+\]:/m;

  /** A pattern that finds any of the `labels` (normalised as markdown-it keeps them) in a text, whatever
   * its case and spacing, as markdown-it matches a reference to a definition. */
  function labelPattern(labels) {
    const escaped = labels.map((label) => md.utils.escapeRE(label).replace(/ /g, "\\s+"));
    return new RegExp(escaped.join("|"), "iu");
  }

  class StreamView {
    /** Renders the growing markdown `text` into `element` (see the module comment). */
    constructor(element) {
      this.element = element;
      this.settled = document.createElement("div");
      this.tail = document.createElement("div");
      this.element.replaceChildren(this.settled, this.tail);
      this.text = "";
      this.settledChars = 0; // characters of `text` already rendered into `settled`
      this.chunks = []; // what each render added to `settled`: {start, end, nodes, defines}
      this.frame = 0;
      this.notBefore = 0;
      this.onRender = null; // called after each render, e.g. to keep the answer scrolled into view
      this.renderMs = 0; // time spent rendering, and its longest piece: the render budget reads them
      this.longestMs = 0;
      this.frames = 0;
      this.parsedChars = 0; // characters parsed in all: linear in the answer's length, whatever the timing
    }

    update(text) {
      this.text = text;
      if (!this.frame) this.frame = requestAnimationFrame((now) => this.onFrame(now));
    }

    onFrame(now) {
      this.frame = 0;
      if (now < this.notBefore) {
        this.frame = requestAnimationFrame((later) => this.onFrame(later));
        return;
      }
      const started = performance.now();
      this.flush(false);
      const spent = performance.now() - started;
      this.renderMs += spent;
      this.longestMs = Math.max(this.longestMs, spent);
      this.frames += 1;
      if (this.onRender) this.onRender();
      // Keep rendering to about a quarter of the main thread when the last block gets expensive.
      this.notBefore = now + spent * 3;
    }

    /** Render what has not been rendered yet; `final` also highlights the last block. `references` are
     * the link definitions of earlier blocks; those the parse finds are added to them. */
    flush(final, references = {}) {
      const source = this.text.slice(this.settledChars);
      this.parsedChars += source.length;
      const env = { references }; // for the renders of the parse's tokens
      const tokens = md.parse(source, env);
      const starts = [];
      tokens.forEach((token, index) => {
        if (token.level === 0 && token.nesting >= 0 && token.map) starts.push(index);
      });
      let tailTokens = tokens;
      if (starts.length > 1) {
        // Every top-level block before the last one is finished: render it once, highlighted.
        const last = starts[starts.length - 1];
        const html = md.renderer.render(tokens.slice(0, last), md.options, env);
        const before = this.settled.lastChild;
        this.settled.insertAdjacentHTML("beforeend", sanitize(html));
        const nodes = [];
        for (let node = before ? before.nextSibling : this.settled.firstChild; node; node = node.nextSibling) nodes.push(node);
        const end = this.settledChars + lineOffset(source, tokens[last].map[0]);
        const defines = REFERENCE_DEFINITION.test(this.text.slice(this.settledChars, end));
        this.chunks.push({ start: this.settledChars, end, nodes, defines });
        this.settledChars = end;
        tailTokens = tokens.slice(last);
      }
      const tailEnv = { ...env, highlight: final };
      this.tail.innerHTML = sanitize(md.renderer.render(tailTokens, md.options, tailEnv));
    }

    /** The answer ended: render the rest, and again the finished blocks a link definition may change. */
    finish(text) {
      if (this.frame) cancelAnimationFrame(this.frame);
      this.frame = 0;
      this.text = text;
      const started = performance.now();
      if (REFERENCE_DEFINITION.test(text)) {
        const rendered = this.chunks;
        this.chunks = [];
        const references = this.definitions(rendered);
        this.flush(true, references); // the rest, which adds its own definitions
        const labels = Object.keys(references);
        if (labels.length) this.rerender(rendered, references, labelPattern(labels));
      } else this.flush(true);
      const spent = performance.now() - started;
      this.renderMs += spent;
      this.longestMs = Math.max(this.longestMs, spent);
    }

    /** The link definitions of the `chunks` that hold one, in their order (the first of a label wins):
     * a block-level parse of those chunks only. */
    definitions(chunks) {
      const env = { references: {} };
      for (const chunk of chunks) {
        if (!chunk.defines) continue;
        const source = this.text.slice(chunk.start, chunk.end);
        this.parsedChars += source.length;
        md.block.parse(source, md, env, []);
      }
      return env.references;
    }

    /** Render again, with all of the answer's `references`, each of the `chunks` whose text names one of
     * their labels (`pattern`). A chunk that rendered nothing holds only definitions, and still does. */
    rerender(chunks, references, pattern) {
      for (const chunk of chunks) {
        const source = this.text.slice(chunk.start, chunk.end);
        if (!chunk.nodes.length || !pattern.test(source)) continue;
        this.parsedChars += source.length;
        const env = { references };
        const box = document.createElement("div");
        box.innerHTML = sanitize(md.renderer.render(md.parse(source, env), md.options, env));
        const fresh = [...box.childNodes];
        chunk.nodes[0].before(...fresh);
        chunk.nodes.forEach((node) => node.remove());
        chunk.nodes = fresh;
      }
    }
  }

  function lineOffset(text, line) {
    let offset = 0;
    for (let seen = 0; seen < line; seen += 1) {
      const next = text.indexOf("\n", offset);
      if (next < 0) return text.length;
      offset = next + 1;
    }
    return offset;
  }

  hybrid.markdown = { render, StreamView };
})();
