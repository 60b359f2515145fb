/* Where Chats start: a controller (`chat.js`) for every Chat element Dash puts in the page, whenever it does.
 *
 * Dash mounts a Chat's element with the first layout, and again and again later: when a tab opens
 * (`dcc.Tabs` renders only the open tab), when Dash Pages shows a page, when a callback returns one. A
 * MutationObserver sees each of them: every element of class `hybrid-chat` with a configuration
 * (`data-config`, written by `component.py` for a Chat `create_app` wired) and no controller gets one.
 * (A React component of our own would see mount and unmount too, but needs a JavaScript build and a
 * generated Python class; the DOM tells the same, and the Chat stays an `html.Div` any Dash app renders.)
 *
 * One controller per Chat id: when the element leaves the page the controller is dropped, unless an
 * answer is streaming; then it finishes that answer (into the history) and the element of that id that
 * Dash mounts next (the tab opened again) takes the controller over, the streaming answer included. So
 * nothing outlives its use: no listener outside the element, and a controller leaves with its last
 * answer. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const controllers = new Map(); // Chat id -> its controller: on the page, or finishing an answer off it

  function configOf(root) {
    try {
      return JSON.parse(root.dataset.config);
    } catch {
      return null;
    }
  }

  function start(root) {
    const config = configOf(root);
    if (!config) return;
    let chat = controllers.get(config.id);
    if (chat && !chat.root.isConnected) chat.moveTo(root, config);
    else {
      chat = new hybrid.ChatController(root, config);
      controllers.set(config.id, chat);
    }
    chat.changed();
  }

  /** A Chat whose element left the page: dropped now, or once its streaming answer has ended. */
  function leave(id, chat) {
    if (!chat.streaming) controllers.delete(id);
    else if (!chat.leaving) {
      chat.leaving = chat.idle().then(() => {
        chat.leaving = null;
        if (controllers.get(id) === chat && !chat.root.isConnected) controllers.delete(id);
      });
    }
  }

  /** Start a controller for each Chat element in `node` (itself included). */
  function startWithin(node) {
    if (node.classList.contains("hybrid-chat") && !node.hybridChat) start(node);
    for (const root of node.getElementsByClassName("hybrid-chat")) if (!root.hybridChat) start(root);
  }

  /** What changed in the page: Chats that left, and Chats among the elements added. A Chat's own
   * rendering (its conversation, where answers stream) is skipped unread: that is where nearly every
   * change happens, and model output never starts a controller. */
  function scan(records) {
    for (const [id, chat] of controllers) if (!chat.root.isConnected) leave(id, chat);
    for (const record of records) {
      if (record.target.nodeType !== Node.ELEMENT_NODE || record.target.closest(".chat-conversation")) continue;
      for (const node of record.addedNodes) if (node.nodeType === Node.ELEMENT_NODE) startWithin(node);
    }
  }

  new MutationObserver(scan).observe(document, { childList: true, subtree: true });
  startWithin(document.documentElement);
  // A reload or a closed tab mid-answer keeps what arrived (the controllers save at each turn's start and end).
  window.addEventListener("pagehide", () => controllers.forEach((chat) => chat.persist()));
})();
