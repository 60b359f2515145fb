/* Tickets: how a Chat's controller gets each answer signed by its Dash callback (`wiring.py`).
 *
 * The controller sets the Chat's ticket-request store (`{id, body}`); Dash posts it, with the Chat's
 * context values, to `_dash-update-component`, where the signing callback checks both and signs them
 * into a ticket; the ticket store's clientside callback (`hybridChat.ticket`) hands the answer back here,
 * matched by the request's id. A request refused before the callback runs (413 past the body limit, 401
 * without the signed-in user's header, 400 from the callback guard) or that fails on the network never
 * reaches that store, so the page's `fetch` is watched for the Dash requests that carry a pending id:
 * their failure settles the ticket at once, with the server's message. Dash offers no hook for a failed
 * callback request; this wrapper passes every request through unchanged and looks only at those. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  // A request still unanswered after this long fails (with Retry): the server may hang, not only refuse.
  const TIMEOUT_MS = 15000;
  const DASH_CALLBACK = /\/_dash-update-component(?:[?#]|$)/;

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

  /** The pending requests a `fetch(input, init)` carries, if it is a Dash callback request. */
  function carried(input, init) {
    if (!pending.size) return [];
    const url = typeof input === "string" ? input : input instanceof Request ? input.url : String(input);
    const body = init && init.body;
    if (!DASH_CALLBACK.test(url) || typeof body !== "string") return [];
    return [...pending.keys()].filter((id) => body.includes(id));
  }

  const pageFetch = window.fetch;
  window.fetch = function (input, init) {
    const ids = carried(input, init);
    const sent = pageFetch.call(this, input, init);
    if (!ids.length) return sent;
    return sent.then(
      (response) => {
        if (!response.ok && response.status !== 204) {
          hybrid.errorMessage(response.clone()).then((error) => ids.forEach((id) => settle({ id, error })));
        }
        return response;
      },
      (error) => {
        ids.forEach((id) => settle({ id, error: "the server could not be reached" }));
        throw error;
      },
    );
  };

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
