/* A Chat's composer: the prompt where a question is written, and the Send, Stop and New chat buttons.
 * Enter sends (Shift+Enter is a newline, and so is Enter while an input method composes); Send is off
 * and Stop on while an answer streams. What sending, stopping and a new chat do is the controller's
 * (`chat.js`): the composer only asks. */
(function () {
  "use strict";
  const hybrid = (window.hybridChat = window.hybridChat || {});

  class Composer {
    /** The composer inside the Chat element `root`. `actions`: `send(text)`, which says whether the
     * question was sent (not while an answer streams), `stop()` and `newChat()`. */
    constructor(root, actions) {
      this.actions = actions;
      this.attach(root);
    }

    /** Take the controls inside `root` (the Chat's element mounted again), with an unsent question. */
    moveTo(root) {
      const text = this.prompt.value;
      this.attach(root);
      this.prompt.value = text;
    }

    /** Every listener is on the element's own controls, so an element that leaves the page takes them along. */
    attach(root) {
      this.prompt = root.querySelector(".chat-prompt");
      this.sendButton = root.querySelector(".chat-send");
      this.stopButton = root.querySelector(".chat-stop");
      this.prompt.addEventListener("keydown", (event) => this.onKeyDown(event));
      this.sendButton.addEventListener("click", () => this.submit());
      this.stopButton.addEventListener("click", () => this.actions.stop());
      const newChat = root.querySelector(".chat-new");
      if (newChat) newChat.addEventListener("click", () => this.actions.newChat());
    }

    /** Send what the prompt holds, and empty it once sent. */
    submit() {
      if (this.actions.send(this.prompt.value)) this.prompt.value = "";
    }

    focus() {
      this.prompt.focus();
    }

    setStreaming(streaming) {
      this.sendButton.disabled = streaming;
      this.stopButton.disabled = !streaming;
      if (!streaming && (document.activeElement === this.stopButton || document.activeElement === document.body)) {
        this.prompt.focus();
      }
    }

    onKeyDown(event) {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      event.preventDefault(); // Enter sends; Shift+Enter inserts a newline
      this.submit();
    }
  }

  hybrid.Composer = Composer;
})();
