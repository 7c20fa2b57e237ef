// What the signed-in pages' scripts share (live.js, inbox.js, conversation.js), as
// window.helpdesk; base.html loads it before them.
(function () {
  "use strict";

  // Every form of a page carries the same CSRF token; base.html's sign-out form is on them all.
  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content;
  }

  // An HTML fragment of the page's own (the views answer fetches with fragments); throws on an
  // error status.
  async function fetchHtml(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "text/html", "X-Requested-With": "fetch" },
    });
    if (!response.ok) throw new Error(`${response.status} from ${url}`);
    return fragment(await response.text());
  }

  window.helpdesk = { csrfToken: csrfToken, fragment: fragment, fetchHtml: fetchHtml };
})();
