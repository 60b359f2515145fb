/* The chat page's sidebar: the list of the page's Chat's conversations, New chat, and the phone drawer.
 *
 * It keeps no state: the Chat's controller (`element.hybridChat`, see the Chat's `chat.js`) holds the
 * conversations; this script renders its list whenever the Chat says they changed (`hybrid-chat:change`)
 * and calls its methods when a button here is clicked. */
(function () {
  "use strict";

  const CHAT_ID = "chat";

  function chat() {
    const root = document.getElementById(CHAT_ID);
    return root ? root.hybridChat : undefined;
  }

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderList(controller) {
    const list = document.getElementById("conversation-list");
    if (!list) return;
    const items = controller.conversations().map((conversation) => {
      const item = element("li", { class: "conversation-item", "data-id": conversation.id });
      const open = element("button", { type: "button", class: "conversation-open" }, conversation.title);
      if (conversation.current) open.setAttribute("aria-current", "true");
      const remove = element("button", { type: "button", class: "conversation-delete" }, "×");
      remove.setAttribute("aria-label", `Delete conversation: ${conversation.title}`);
      item.append(open, remove);
      return item;
    });
    list.replaceChildren(...items);
  }

  function toggleSidebar(open) {
    const app = document.querySelector(".app");
    const opened = app.classList.toggle("sidebar-open", open);
    document.getElementById("sidebar-toggle").setAttribute("aria-expanded", String(opened));
  }

  document.addEventListener(
    "hybrid-chat:change",
    (event) => {
      if (event.target.id === CHAT_ID) renderList(event.detail.chat);
    },
    true,
  );

  document.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    const controller = chat();
    if (!target || !controller) return;
    const item = target.closest(".conversation-item");
    if (target.id === "new-chat") {
      controller.newChat();
      toggleSidebar(false);
    } else if (target.id === "sidebar-toggle") {
      toggleSidebar();
    } else if (item && target.classList.contains("conversation-open")) {
      controller.open(item.dataset.id);
      toggleSidebar(false);
    } else if (item && target.classList.contains("conversation-delete")) {
      controller.remove(item.dataset.id);
    }
  });
})();
