/* Markdown for model output: CommonMark + GitHub tables (markdown-it), sanitised (DOMPurify), code
 * highlighted (highlight.js). Model output is untrusted: raw HTML is escaped, only http(s)/mailto and
 * relative links survive, and images become plain links (a remote image would load without a click and
 * can leak data through its URL).
 *
 * `StreamView` renders a growing answer in time linear in its length: finished top-level blocks are
 * rendered once and appended; only the last, still-growing block is re-rendered, at most once per
 * animation frame (less often when rendering gets expensive). A code block still growing is not highlighted
 * (it is once it is finished): each render says so in markdown-it's `env`, so no shared state changes. */
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
        `<pre><code${klass}>${body}</code></pre></div>\n`
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

  // A link reference definition can turn earlier `[text]` into a link, so an answer holding one gets
  // one full render when it ends instead of keeping its block-by-block rendering.
  const REFERENCE_DEFINITION = /^ {0,3}\[[^\]]+\]:/m;

  class StreamView {
    /** Renders the growing markdown `text` into `element` (see the module comment). */
    constructor(element) {
      this.element = element;
      this.settled = document.createElement("div");
      this.tail = document.createElement("div");
      this.element.replaceChildren(this.settled, this.tail);
      this.text = "";
      this.settledChars = 0; // characters of `text` already rendered into `settled`
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

    /** Render what has not been rendered yet; `final` also highlights the last block. */
    flush(final) {
      const source = this.text.slice(this.settledChars);
      this.parsedChars += source.length;
      const env = {}; // link references found by the parse, for the renders of its tokens
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
        this.settled.insertAdjacentHTML("beforeend", sanitize(html));
        this.settledChars += lineOffset(source, tokens[last].map[0]);
        tailTokens = tokens.slice(last);
      }
      const tailEnv = { ...env, highlight: final };
      this.tail.innerHTML = sanitize(md.renderer.render(tailTokens, md.options, tailEnv));
    }

    /** The answer ended: render the rest (or everything again, when a reference definition needs it). */
    finish(text) {
      if (this.frame) cancelAnimationFrame(this.frame);
      this.frame = 0;
      this.text = text;
      const started = performance.now();
      if (REFERENCE_DEFINITION.test(text)) this.element.innerHTML = render(text);
      else this.flush(true);
      const spent = performance.now() - started;
      this.renderMs += spent;
      this.longestMs = Math.max(this.longestMs, spent);
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
