// Tickets (`tickets.js`) and the watch on Dash's callback requests (`compat-dash-fetch.js`): a ticket
// request is answered through the ticket store, or fails at once, with the server's reason, when Dash's
// request for it is refused or lost. Dash is played here as dash-renderer 4.4.1 sends a callback: the
// store's new value in the JSON body of `fetch(".../_dash-update-component", {method: "POST"})`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chatWindow } from "./chat-window.mjs";

const CALLBACK_URL = "/chat/_dash-update-component";

/**
 * A page whose server answers each request with `respond(url, init)` (a Response; it may throw, as a
 * network error does). `page.sent` holds what the ticket store was set to;
 * `page.dashSaw` what Dash's own callers got back.
 */
function page(respond) {
  const sent = [];
  const dashSaw = [];
  const window = chatWindow({
    before(window) {
      window.Request = Request;
      window.fetch = async (input, init) => respond(typeof input === "string" ? input : input.url, init);
      window.dash_clientside = {
        set_props(id, props) {
          sent.push({ id, data: props.data });
          const payload = { output: `${id}.data`, inputs: [{ id, property: "data", value: props.data }] };
          window
            .fetch(CALLBACK_URL, { method: "POST", body: JSON.stringify(payload) })
            .then((response) => dashSaw.push(response), (error) => dashSaw.push(error));
        },
      };
    },
  });
  return { window, sent, dashSaw, request: (body = { messages: [] }) => window.hybridChat.tickets.request("chat--ticket-request", body, new window.AbortController().signal) };
}

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

describe("a ticket request", () => {
  test("is sent through the Chat's ticket-request store, with the conversation", async () => {
    const { window, sent, request } = page(() => new Response(null, { status: 204 }));
    const asked = request({ messages: [{ role: "user", content: "hi" }] });
    assert.equal(sent.length, 1);
    assert.equal(sent[0].id, "chat--ticket-request");
    assert.deepEqual(JSON.parse(JSON.stringify(sent[0].data.body)), { messages: [{ role: "user", content: "hi" }] });
    window.dash_clientside.hybridChat.ticket({ id: sent[0].data.id, ticket: "signed", url: "/chat/stream" });
    const target = await asked;
    assert.equal(target.url, "/chat/stream");
    assert.equal(target.body.ticket, "signed");
  });

  test("fails with the signing callback's refusal", async () => {
    const { window, sent, request } = page(() => new Response(null, { status: 204 }));
    const asked = request();
    window.dash_clientside.hybridChat.ticket({ id: sent[0].data.id, error: "the conversation is too long", status: 400 });
    await assert.rejects(asked, { message: "the conversation is too long" });
  });

  test("ignores an answer for another request", async () => {
    const { window, sent, request } = page(() => new Response(null, { status: 204 }));
    const asked = request();
    window.dash_clientside.hybridChat.ticket({ id: "someone else's", ticket: "not ours", url: "/x" });
    window.dash_clientside.hybridChat.ticket({ id: sent[0].data.id, ticket: "ours", url: "/chat/stream" });
    assert.equal((await asked).body.ticket, "ours");
  });

  test("fails when Stop aborts it", async () => {
    const { window } = page(() => new Response(null, { status: 204 }));
    const stop = new window.AbortController();
    const asked = window.hybridChat.tickets.request("chat--ticket-request", { messages: [] }, stop.signal);
    stop.abort();
    await assert.rejects(asked, { message: "stopped" });
  });
});

describe("a ticket request Dash's callback request fails for", () => {
  test("a refusal before the callback ran (413): fails at once with the server's message", async () => {
    const { request, dashSaw } = page(() => json(413, { error: { message: "the request body is larger than 1048576 bytes" } }));
    await assert.rejects(request(), { message: "the request body is larger than 1048576 bytes" });
    assert.equal(dashSaw[0].status, 413); // Dash gets the response as it came, its body unread
    assert.deepEqual(await dashSaw[0].json(), { error: { message: "the request body is larger than 1048576 bytes" } });
  });

  test("a refusal without a JSON reason (401, 400): fails with the status line", async () => {
    for (const [status, statusText] of [
      [401, "Unauthorized"],
      [400, "Bad Request"],
    ]) {
      const { request } = page(() => new Response("<html>no</html>", { status, statusText }));
      await assert.rejects(request(), { message: `the server answered ${status} ${statusText}` });
    }
  });

  test("the network: fails with 'the server could not be reached', and Dash sees its error", async () => {
    const { request, dashSaw } = page(() => {
      throw new TypeError("Failed to fetch");
    });
    await assert.rejects(request(), { message: "the server could not be reached" });
    assert.equal(dashSaw[0].message, "Failed to fetch");
  });

  test("not a prevented update (204): the ticket still comes", async () => {
    const { window, sent, request } = page(() => new Response(null, { status: 204 }));
    const asked = request();
    await new Promise((resolve) => setTimeout(resolve, 10));
    window.dash_clientside.hybridChat.ticket({ id: sent[0].data.id, ticket: "signed", url: "/chat/stream" });
    assert.equal((await asked).body.ticket, "signed");
  });
});

describe("other requests", () => {
  test("pass through the watch untouched, failed or not", async () => {
    const plainResponse = new Response("fine");
    const { window, sent, request } = page((url, init) => {
      if (url === "/other") return plainResponse;
      return init.body.includes("chat--ticket-request") ? new Response(null, { status: 204 }) : json(500, {});
    });
    const asked = request();
    assert.equal(await window.fetch("/other"), plainResponse);
    const otherCallback = await window.fetch(CALLBACK_URL, { method: "POST", body: '{"inputs": []}' });
    assert.equal(otherCallback.status, 500); // another callback's failure is not the ticket's
    window.dash_clientside.hybridChat.ticket({ id: sent[0].data.id, ticket: "signed", url: "/chat/stream" });
    assert.equal((await asked).body.ticket, "signed");
  });
});
