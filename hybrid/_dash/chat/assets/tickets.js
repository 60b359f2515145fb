/* Tickets: how a Chat's controller gets each answer signed by its Dash callback (`wiring.py`).
 *
 * The controller sets the Chat's ticket-request store (`{id, body}`); Dash posts it, with the Chat's
 * context values, to `_dash-update-component`, where the signing callback checks both and signs them
 * into a ticket; the ticket store's clientside callback (`hybridChat.ticket`) hands the answer back here,
 * matched by the request's id. A request refused before the callback runs (413 past the body limit, 401
 * without the signed-in user's header, 400 from the callback guard) or that fails on the network never
 * reaches that store: the Dash requests that carry a pending id are watched (`compat-dash-fetch.js`), and
 * their failure settles the ticket at once, with the server's message. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  // A request still unanswered after this long fails (with Retry): the server may hang, not only refuse.
  const TIMEOUT_MS = 15000;

  const pending = new Map(); // request id -> settle({ticket, url} | {error})

  /** A promise of `{url, body}` (the stream request) for the conversation `body`, signed by the Chat's
   * callback through its ticket-request store `storeId`. It fails when the server refuses or cannot be
   * reached, when no answer comes within `TIMEOUT_MS`, or when `signal` aborts (Stop); a late answer is
   * ignored. */
  function request(storeId, body, signal) {
    const id = hybrid.history.newId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle({ id, error: `the server did not answer within ${TIMEOUT_MS / 1000} s` }), TIMEOUT_MS);
      signal.addEventListener("abort", () => settle({ id, error: "stopped" }), { once: true });
      pending.set(id, (answer) => {
        clearTimeout(timer);
        pending.delete(id);
        if (answer.ticket) resolve({ url: answer.url, body: { ticket: answer.ticket } });
        else reject(new Error(answer.error || "the server refused the request"));
      });
      window.dash_clientside.set_props(storeId, { data: { id, body } });
    });
  }

  function settle(answer) {
    const done = answer && pending.get(answer.id);
    if (done) done(answer);
  }

  // A Dash callback request that carries pending ids fails them all, with its reason.
  hybrid.dashFetch.watchCallbackRequests((body) => {
    const ids = [...pending.keys()].filter((id) => body.includes(id));
    return ids.length ? (error) => ids.forEach((id) => settle({ id, error })) : null;
  });

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    hybridChat: {
      /** The signing callback's answer (the Chat's ticket store), for the request it names. */
      ticket(answer) {
        settle(answer);
      },
    },
  });

  hybrid.tickets = { request };
})();
