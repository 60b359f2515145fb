/* What an answer may not set on the page (`hybrid.SetProps`): props that put raw HTML or script into it.
 * The server refuses them already (`hybrid/_wire/page_props.py`, the same lists); this is the second wall,
 * should a stream ever carry one: `dangerouslySetInnerHTML`, `srcDoc`, `dangerously_allow_html`, and a URL
 * prop holding a `javascript:`, `vbscript:` or `data:text/html` URL, in the values and in the components
 * they hold, unless the Chat allows the prop by name (`allowProps` of its configuration). */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const HTML_PROPS = new Set(["dangerouslySetInnerHTML", "srcDoc", "dangerously_allow_html"]);
  const URL_PROPS = new Set([
    "href", "src", "action", "formaction", "data", "poster", "background", "cite", "codebase", "srcset",
    "xlinkhref", "manifest", "ping", "url",
  ]);
  const SCRIPT_SCHEMES = ["javascript:", "vbscript:", "data:text/html"];

  /** Whether `value`, followed as a URL, would run script (browsers skip blanks and control characters). */
  function isScriptUrl(value) {
    // eslint-disable-next-line no-control-regex
    const scheme = value.slice(0, 64).replace(/[\x00-\x20]/g, "").toLowerCase();
    return SCRIPT_SCHEMES.some((start) => scheme.startsWith(start));
  }

  function unsafe(name, value) {
    if (HTML_PROPS.has(name)) return value !== null && value !== undefined && value !== false && value !== "";
    return URL_PROPS.has(name.toLowerCase()) && typeof value === "string" && isScriptUrl(value);
  }

  /** The name of the first prop in `props` that would inject HTML or script and is not `allowed`; or null. */
  function unsafeProp(props, allowed = []) {
    const pending = [props];
    while (pending.length) {
      const value = pending.pop();
      if (Array.isArray(value)) pending.push(...value);
      else if (value && typeof value === "object") {
        for (const [name, item] of Object.entries(value)) {
          if (!allowed.includes(name) && unsafe(name, item)) return name;
          pending.push(item);
        }
      }
    }
    return null;
  }

  hybrid.pageProps = { unsafeProp, isScriptUrl };
})();
