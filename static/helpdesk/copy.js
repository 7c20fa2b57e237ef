/* Copy buttons for values shown once (tokens, secrets).
 *
 * <button type="button" data-copy="ID"> copies the text of the element with id ID, and
 * <span role="status" data-copy-status="ID"> says whether it worked. Where the clipboard API is
 * unavailable (a page not served over https or localhost) or refused, the text is selected
 * instead so that Ctrl+C / ⌘C copies it.
 */
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function report(id, message) {
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    if (status) {
      status.textContent = message;
    }
  }

  function selectInstead(id, source) {
    selectText(source);
    report(id, "Selected: press Ctrl+C (⌘C on a Mac) to copy.");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) {
      return;
    }
    var id = button.getAttribute("data-copy");
    var source = document.getElementById(id);
    if (!source) {
      return;
    }
    var text = source.textContent.trim();
    if (!navigator.clipboard || !window.isSecureContext) {
      selectInstead(id, source);
      return;
    }
    navigator.clipboard.writeText(text).then(
      function () {
        report(id, "Copied.");
      },
      function () {
        selectInstead(id, source);
      }
    );
  });
})();
