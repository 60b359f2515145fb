// ESLint for the Chat's and the chat page's own scripts (the vendored `0-*.min.js` libraries are not ours to
// lint), and for their Node tests.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", ".venv/", "hybrid/_dash/chat/assets/0-*.min.js"] },
  js.configs.recommended,
  {
    files: ["hybrid/_dash/page/assets/*.js", "hybrid/_dash/chat/assets/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: {
        ...globals.browser,
        // What the vendored libraries and Dash define on the page.
        markdownit: "readonly",
        DOMPurify: "readonly",
        hljs: "readonly",
        dash_clientside: "writable",
      },
    },
  },
  {
    // The scripts' unit tests: ES modules run by `node --test`, driving the scripts in a jsdom window.
    files: ["tests/js/**/*.mjs"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.node,
    },
  },
];
