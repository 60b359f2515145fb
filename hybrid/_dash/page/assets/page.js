/* The chat page's sidebar: the list of the page's Chat's conversations, New chat, and the phone drawer.
 *
 * It keeps no state: the Chat's controller (`element.hybridChat`, see the Chat's `chat.js`) holds the
 * conversations; this script renders its list whenever the Chat says they changed (`hybrid-chat:change`)
 * and calls its methods when a button here is clicked (`ACTIONS`, by the button's `data-page-action`). */
(function () {
  "use strict";

  const CHAT_ID = "chat";

  const element = (...args) => window.hybridChat.dom.element(...args);

  function chat() {
    const root = document.getElementById(CHAT_ID);
    return root ? root.hybridChat : undefined;
  }

  function renderList(controller) {
    const list = document.getElementById("conversation-list");
    if (!list) return;
    const items = controller.conversations().map((conversation) => {
      const item = element("li", { class: "conversation-item", "data-id": conversation.id });
      const open = element("button", { type: "button", class: "conversation-open", "data-page-action": "open" }, conversation.title);
      if (conversation.current) open.setAttribute("aria-current", "true");
      const remove = element("button", { type: "button", class: "conversation-delete", "data-page-action": "delete" }, "×");
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

  const idOf = (target) => target.closest(".conversation-item").dataset.id;

  /** What each of the page's buttons does, by its `data-page-action`; a handler gets the Chat's
   * controller and the button. */
  const ACTIONS = {
    "new-chat": (controller) => {
      controller.newChat();
      toggleSidebar(false);
    },
    "toggle-sidebar": () => toggleSidebar(),
    open: (controller, target) => {
      controller.open(idOf(target));
      toggleSidebar(false);
    },
    delete: (controller, target) => controller.remove(idOf(target)),
  };

  document.addEventListener(
    "hybrid-chat:change",
    (event) => {
      if (event.target.id === CHAT_ID) renderList(event.detail.chat);
    },
    true,
  );

  document.addEventListener("click", (event) => {
    const target = event.target.closest("button[data-page-action]");
    const controller = chat();
    if (target && controller && Object.hasOwn(ACTIONS, target.dataset.pageAction)) {
      ACTIONS[target.dataset.pageAction](controller, target);
    }
  });
})();
