/* DOM helpers the Chat's scripts share. Text is always set as text (`textContent`), never parsed as HTML. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  /** A new `tag` element with `attributes`, and `text` as its text when given. */
  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  hybrid.dom = { element };
})();
