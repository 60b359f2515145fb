// ESLint for the Chat's and the chat page's own scripts (the vendored `0-*.min.js` libraries are not ours to lint).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", ".venv/", "hybrid/dash/chat/assets/0-*.min.js"] },
  js.configs.recommended,
  {
    files: ["hybrid/dash/ui/assets/*.js", "hybrid/dash/chat/assets/*.js"],
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
];
