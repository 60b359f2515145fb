/* The one place the Chat reaches into Dash's renderer: it watches the page's `window.fetch` for Dash's
 * callback requests, to learn when one fails before its callback answers.
 *
 * Checked against Dash 4.4.1 (dash-renderer's `handleServerside`): a callback request is
 * `fetch(<requests prefix>_dash-update-component, {method: "POST", body: <the payload as a JSON string>})`,
 * with `fetch` looked up on the page each time.
 *
 * Why: a ticket request (`tickets.js`) refused before the signing callback runs (413 past the body limit,
 * 401 without the signed-in user's header, 400 from the callback guard) or lost on the network never
 * reaches the ticket store, and the answer would wait for its time-out instead of failing at once with the
 * server's reason. Dash 4.4.1 has no public way to learn that which serves: its renderer hooks come only
 * from the app's one `renderer` string (`Dash(hooks=...)`, `app.renderer`), which belongs to the app's
 * author, so a component that set them would replace the author's; `request_post` is called for successful
 * responses only; `callback_resolved` is given a failed request's response, but for a 400 or 401 only
 * after the renderer has read its body (looking for an expired JWT), so the server's reason is gone.
 *
 * The wrapper passes every request through unchanged, and looks only at Dash's callback requests that a
 * watcher asks about. If Dash stops sending callbacks this way, a refused ticket request goes back to
 * failing at its time-out: `tests/dash/test_chat_refusals.py` then fails, naming this script. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  const CALLBACK_URL = /\/_dash-update-component(?:[?#]|$)/;

  const watchers = [];

  /** Show `watcher(body)` each Dash callback request as it is sent (`body`, its JSON text). When it returns
   * a function, that function is called with the reason if the request fails: the server's message for a
   * refusal (any status but 2xx and 204), or "the server could not be reached". */
  function watchCallbackRequests(watcher) {
    watchers.push(watcher);
  }

  /** The body of `fetch(input, init)` if it is a Dash callback request, else null. */
  function callbackBody(input, init) {
    const url = typeof input === "string" ? input : input instanceof Request ? input.url : String(input);
    const body = init && init.body;
    return CALLBACK_URL.test(url) && typeof body === "string" ? body : null;
  }

  const pageFetch = window.fetch;
  window.fetch = function (input, init) {
    const body = callbackBody(input, init);
    const failed = body === null ? [] : watchers.map((watcher) => watcher(body)).filter(Boolean);
    const sent = pageFetch.call(this, input, init);
    if (!failed.length) return sent;
    const fail = (reason) => failed.forEach((report) => report(reason));
    return sent.then(
      (response) => {
        if (!response.ok && response.status !== 204) hybrid.errorMessage(response.clone()).then(fail);
        return response;
      },
      (error) => {
        fail("the server could not be reached");
        throw error;
      },
    );
  };

  hybrid.dashFetch = { watchCallbackRequests };
})();
