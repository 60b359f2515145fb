// The Chat's browser scripts in a jsdom window, loaded as the page loads them: every script of the
// manifest (`scripts.json`, which the Python wiring serves them by), in its order, each a classic script
// run in the window's global scope. The tests then drive `window.hybridChat` as the page's code does.
import { readFileSync } from "node:fs";
import { Script } from "node:vm";
import { JSDOM } from "jsdom";

const ASSETS = new URL("../../hybrid/_dash/chat/assets/", import.meta.url);

/** The scripts' file names, in load order. */
export const MANIFEST = JSON.parse(readFileSync(new URL("scripts.json", ASSETS), "utf8"));

const compiled = MANIFEST.map((name) => {
  const url = new URL(name, ASSETS);
  return new Script(readFileSync(url, "utf8"), { filename: url.pathname });
});

/**
 * A new window at an http origin (so it has localStorage) with the Chat's scripts loaded. `before(window)`
 * runs first, for what the page would have before them (a `fetch`, stored conversations); `html` is the
 * body's markup; `storageQuota` how many characters localStorage takes (jsdom's default: 5,000,000).
 */
export function chatWindow({ html = "", before, storageQuota } = {}) {
  const dom = new JSDOM(`<!doctype html><html><body>${html}</body></html>`, {
    url: "http://127.0.0.1:8050/",
    runScripts: "outside-only",
    pretendToBeVisual: true, // requestAnimationFrame, as a visible page has it
    storageQuota,
  });
  if (before) before(dom.window);
  const context = dom.getInternalVMContext();
  for (const script of compiled) script.runInContext(context);
  return dom.window;
}

/** Resolves after the window's next `count` animation frames. */
export async function frames(window, count = 1) {
  for (let i = 0; i < count; i += 1) await new Promise((resolve) => window.requestAnimationFrame(resolve));
}

/** `value` (made in a window) as plain data of this realm: strict deep equality compares prototypes, and a
 * window has its own `Object.prototype`. */
export function plain(value) {
  return JSON.parse(JSON.stringify(value));
}
