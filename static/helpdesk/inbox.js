// The inbox's lists (SPEC I1, I8): when a live event says a ticket or its conversation changed,
// re-fetch the views' counts and the list's rows as HTML fragments and swap them in.
// live.js dispatches every event on document as "helpdesk:live" ({seq, kind, ticketId, …}).
// Fragments say where to re-fetch them from with data-refresh-url: the left column
// (#inbox-views) on every inbox page, the rows (#inbox-rows) on a view's first page.
(function () {
  "use strict";

  const REFRESHED = ["#inbox-views", "#inbox-rows"];
  const RELEVANT = /^(ticket\.|message\.created$)/;
  let timer = null;

  async function refresh(selector) {
    const current = document.querySelector(selector);
    const url = current && current.dataset.refreshUrl;
    if (!url) return;
    const fresh = (await window.helpdesk.fetchHtml(url)).querySelector(selector);
    if (!fresh) return;
    // Keep the keyboard where it was: the same row (or view link) gets the focus back.
    const focused = document.activeElement;
    const row = focused && current.contains(focused) && focused.closest("[data-ticket-id], [data-view-key]");
    current.replaceWith(fresh);
    if (row) {
      const key = row.dataset.ticketId
        ? `[data-ticket-id="${row.dataset.ticketId}"] a`
        : `[data-view-key="${row.dataset.viewKey}"]`;
      const again = fresh.querySelector(key);
      if (again) again.focus();
    }
  }

  document.addEventListener("helpdesk:live", function (event) {
    const kind = (event.detail && event.detail.kind) || "";
    if (!RELEVANT.test(kind)) return;
    // A burst of events (a message and its assignment) costs one re-fetch.
    clearTimeout(timer);
    timer = setTimeout(function () {
      REFRESHED.forEach(function (selector) {
        refresh(selector).catch(function () {});
      });
    }, 250);
  });
})();
