// The Server-Sent Events parser (`sse.js`), against the HTML standard's "Interpreting an event stream":
// fields, multi-line data, comments, line endings, event ids and retry, and chunks split anywhere.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chatWindow } from "./chat-window.mjs";

const { EventParser } = chatWindow().hybridChat.sse;

/** What a parser dispatches for `chunks` fed one after the other: `[name, data, lastEventId]` per event,
 * and the parser, for its state after them. */
function parse(chunks, lastEventId) {
  const events = [];
  const parser = new EventParser((name, data, id) => events.push([name, data, id]), lastEventId);
  for (const chunk of chunks) parser.feed(chunk);
  return { events, parser };
}

describe("fields", () => {
  test("data makes a message event; event names it", () => {
    const { events } = parse(["data: hello\n\n", "event: meta\ndata: {\"model\": \"m\"}\n\n"]);
    assert.deepEqual(events, [
      ["message", "hello", ""],
      ["meta", '{"model": "m"}', ""],
    ]);
  });

  test("one space after the colon is dropped, no more; no colon means an empty value", () => {
    const { events } = parse(["data:tight\n\n", "data:  two spaces\n\n", "data\n\n", "data:\n\n"]);
    assert.deepEqual(
      events.map(([, data]) => data),
      ["tight", " two spaces", "", ""],
    );
  });

  test("the event name lasts one event", () => {
    const { events } = parse(["event: reasoning\ndata: a\n\ndata: b\n\n"]);
    assert.deepEqual(
      events.map(([name]) => name),
      ["reasoning", "message"],
    );
  });

  test("unknown fields are ignored", () => {
    const { events } = parse(["foo: bar\ndata: kept\nDATA: not data\n\n"]);
    assert.deepEqual(events, [["message", "kept", ""]]);
  });

  test("an event not ended by a blank line is not dispatched", () => {
    const { events } = parse(["data: complete\n\ndata: cut off\n"]);
    assert.deepEqual(events, [["message", "complete", ""]]);
  });
});

describe("multi-line data", () => {
  test("each data line is one line of the event's data", () => {
    const { events } = parse(["data: first\ndata:\ndata: third\n\n"]);
    assert.deepEqual(events, [["message", "first\n\nthird", ""]]);
  });

  test("a payload holding blank lines survives when every line has its own prefix", () => {
    const text = "# Title\n\nparagraph\n\n```\ncode\n```";
    const framed = text.split("\n").map((line) => `data: ${line}\n`).join("") + "\n";
    assert.deepEqual(parse([framed]).events, [["message", text, ""]]);
  });

  test("[DONE] is data like any other: the stream reader decides what it means", () => {
    assert.deepEqual(parse(["data: [DONE]\n\n"]).events, [["message", "[DONE]", ""]]);
  });
});

describe("comments", () => {
  test("a comment line is ignored, also between fields", () => {
    const { events } = parse([": hello\ndata: a\n: between\ndata: b\n\n"]);
    assert.deepEqual(events, [["message", "a\nb", ""]]);
  });

  test("a comment-only block (a keep-alive) dispatches nothing", () => {
    const { events } = parse([": keep-alive\n\n", ":\n\n", "data: after\n\n"]);
    assert.deepEqual(events, [["message", "after", ""]]);
  });
});

describe("line endings", () => {
  const stream = (eol) => `event: meta${eol}data: a${eol}data: b${eol}${eol}data: c${eol}${eol}`;
  const expected = [
    ["meta", "a\nb", ""],
    ["message", "c", ""],
  ];

  for (const [name, eol] of [
    ["LF", "\n"],
    ["CRLF", "\r\n"],
    ["CR", "\r"],
  ]) {
    test(`${name} ends lines`, () => {
      assert.deepEqual(parse([stream(eol)]).events, expected);
    });
  }

  test("endings mixed in one stream", () => {
    assert.deepEqual(parse(["event: meta\r\ndata: a\rdata: b\n\r\ndata: c\r\r"]).events, expected);
  });

  test("an event ended by CR is dispatched at once, not when the next chunk comes", () => {
    assert.deepEqual(parse(["data: [DONE]\r\r"]).events, [["message", "[DONE]", ""]]);
  });

  test("a CRLF split between two chunks is one line ending, not two", () => {
    const { events } = parse(["data: a\r", "\ndata: b\r\n\r", "\n"]);
    assert.deepEqual(events, [["message", "a\nb", ""]]);
  });
});

describe("event ids", () => {
  test("an id holds for the events after it until another comes", () => {
    const { events, parser } = parse(["id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n"]);
    assert.deepEqual(
      events.map(([, , id]) => id),
      ["1", "1", "2"],
    );
    assert.equal(parser.lastEventId, "2");
  });

  test("a resumed stream starts from the id of the connection before", () => {
    const { events } = parse(["data: a\n\n"], "41");
    assert.deepEqual(events, [["message", "a", "41"]]);
  });

  test("an id holding NUL is ignored", () => {
    const { events } = parse(["id: 7\ndata: a\n\nid: 8\u0000\ndata: b\n\n"]);
    assert.deepEqual(
      events.map(([, , id]) => id),
      ["7", "7"],
    );
  });

  test("a block with an id and no data sets the id without dispatching", () => {
    const { events, parser } = parse(["id: 5\n\n", "data: a\n\n"]);
    assert.deepEqual(events, [["message", "a", "5"]]);
    assert.equal(parser.lastEventId, "5");
  });

  test("an empty id field empties the last event id", () => {
    const { events } = parse(["id: 3\ndata: a\n\nid\ndata: b\n\n"]);
    assert.deepEqual(
      events.map(([, , id]) => id),
      ["3", ""],
    );
  });

  test("the id takes effect when its event is dispatched, not before", () => {
    const seen = [];
    const parser = new EventParser(() => seen.push(parser.lastEventId), "1");
    parser.feed("id: 2\ndata: a\n");
    assert.equal(parser.lastEventId, "1");
    parser.feed("\n");
    assert.deepEqual(seen, ["2"]);
  });
});

describe("retry", () => {
  test("digits set the reconnection time in ms; anything else is ignored", () => {
    const retries = [];
    const parser = new EventParser(() => {});
    for (const chunk of ["data: a\n\n", "retry: 500\n\n", "retry: 5x\n\n", "retry: -1\n\n", "retry:\n\n", "retry: 1500\n\n"]) {
      parser.feed(chunk);
      retries.push(parser.retry);
    }
    assert.deepEqual(retries, [null, 500, 500, 500, 500, 1500]);
  });

  test("retry alone dispatches nothing", () => {
    assert.deepEqual(parse(["retry: 1000\n\n"]).events, []);
  });
});

describe("chunks split anywhere", () => {
  const stream =
    ": keep-alive\r\n\r\n" +
    "id: 1\r\nevent: answer\r\ndata: {\"id\": \"a\"}\r\n\r\n" +
    "id: 2\ndata: line one\ndata: line two\n\n" +
    "retry: 250\rid: 3\rdata: ünïcödé ✓\r\r" +
    "event: meta\ndata\n\n";
  const whole = parse([stream]);

  test("the whole stream at once", () => {
    assert.deepEqual(whole.events, [
      ["answer", '{"id": "a"}', "1"],
      ["message", "line one\nline two", "2"],
      ["message", "ünïcödé ✓", "3"],
      ["meta", "", "3"],
    ]);
    assert.equal(whole.parser.retry, 250);
  });

  test("split in two at every position", () => {
    for (let at = 0; at <= stream.length; at += 1) {
      const { events, parser } = parse([stream.slice(0, at), stream.slice(at)]);
      assert.deepEqual(events, whole.events, `split at ${at}: ${JSON.stringify(stream.slice(at - 3, at + 3))}`);
      assert.equal(parser.lastEventId, "3");
      assert.equal(parser.retry, 250);
    }
  });

  test("one character at a time", () => {
    assert.deepEqual(parse([...stream]).events, whole.events);
  });

  test("empty chunks change nothing", () => {
    const chunks = [...stream].flatMap((char) => ["", char, ""]);
    assert.deepEqual(parse(chunks).events, whole.events);
  });
});
