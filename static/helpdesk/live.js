/* Live inbox (I8) and the notification bell (I9), on every signed-in page (base.html).
 *
 * Connects to the inbox's websocket and dispatches each live event once, in order, as
 *   document.dispatchEvent(new CustomEvent("helpdesk:live", {detail: event}))
 * for the page's own scripts (the inbox list, the conversation). Event:
 *   {seq, kind, ticketId, messageId, ownerId, data, createdAt}
 *
 * No gaps, no duplicates: after each (re)connection the socket is subscribed first, then the
 * events missed meanwhile come from /inbox/live/events/ (a freshly loaded page asks for those
 * since it was rendered; a reconnecting one for those after the last it saw, with an overlap
 * for transactions that committed out of order); events arriving on the socket meanwhile
 * wait, and every sequence number already seen in this tab (sessionStorage) is dropped.
 * Reconnects with a growing delay (1 s to 30 s); "Reconnecting…" shows meanwhile.
 *
 * The bell shows the unread count and the newest notifications, and a browser notification
 * for each new one once the rep allowed them (asked on a click, never on load).
 */
(function () {
  "use strict";

  const root = document.querySelector("[data-live]");
  if (!root) return;

  const STORAGE_KEY = "helpdesk.live";
  const SEEN_MAX = 500; // sequence numbers remembered, far more than OVERLAP
  const OVERLAP = 50; // a reconnect re-asks this many numbers before the last one seen
  const SINCE_MARGIN_SECONDS = 2; // a new page also re-asks events from just before it
  const HEARTBEAT_MS = 50000;
  const PONG_TIMEOUT_MS = 20000;
  const BELL_SIZE = 10;

  const status = root.querySelector("[data-testid=live-status]");
  const bellButton = root.querySelector(".bell-button");
  const bellCount = root.querySelector("[data-testid=bell-count]");
  const bellLabel = root.querySelector("[data-bell-label]");
  const bellPanel = root.querySelector(".bell-panel");
  const bellList = root.querySelector("[data-bell-list]");
  const readAllButton = root.querySelector("[data-bell-read-all]");
  const permissionButton = root.querySelector("[data-bell-permission]");
  const renderedAt = Number(root.dataset.renderedAt) || Date.now() / 1000;

  // --- What this tab has seen -------------------------------------------------------------

  let last = null; // highest sequence number seen
  let seen = []; // sorted, at most SEEN_MAX
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    if (stored && Array.isArray(stored.seen)) {
      seen = stored.seen.filter(Number.isInteger).sort((a, b) => a - b).slice(-SEEN_MAX);
      last = Number.isInteger(stored.last) ? stored.last : null;
    }
  } catch (error) {
    seen = [];
  }
  const seenSet = new Set(seen);

  function remember(seq) {
    seenSet.add(seq);
    seen.push(seq);
    if (seen.length > 1 && seq < seen[seen.length - 2]) seen.sort((a, b) => a - b);
    while (seen.length > SEEN_MAX) seenSet.delete(seen.shift());
    advance(seq);
  }

  function advance(seq) {
    if (Number.isInteger(seq) && (last === null || seq > last)) last = seq;
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ last: last, seen: seen }));
    } catch (error) {
      /* storage full or disabled: this page still deduplicates */
    }
  }

  function dispatch(event) {
    if (!event || !Number.isInteger(event.seq) || seenSet.has(event.seq)) return;
    remember(event.seq);
    if (event.kind === "notification.created") notificationArrived(event);
    document.dispatchEvent(new CustomEvent("helpdesk:live", { detail: event }));
  }

  // --- The connection ---------------------------------------------------------------------

  let socket = null;
  let attempts = 0;
  let opened = false; // a connection of this page has opened before
  let caughtUp = false; // a catch-up of this page has succeeded
  let catchingUp = false;
  let waiting = [];
  let heartbeat = null;
  let pongTimer = null;

  const STATUS_TEXT = { reconnecting: "Reconnecting…", unavailable: "Live updates unavailable" };

  function setStatus(state) {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = STATUS_TEXT[state] || "";
    status.title = state === "open" ? "Live updates on" : "";
  }

  function connect() {
    setStatus(opened ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + root.dataset.wsPath);
    socket = ws;
    ws.addEventListener("open", function () {
      if (socket !== ws) return;
      attempts = 0;
      opened = true;
      setStatus("open");
      startHeartbeat(ws);
      catchUp();
    });
    ws.addEventListener("message", function (message) {
      if (socket !== ws) return;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (event.type === "pong") {
        clearTimeout(pongTimer);
        return;
      }
      if (catchingUp) waiting.push(event);
      else dispatch(event);
    });
    ws.addEventListener("close", function () {
      if (socket !== ws) return;
      socket = null;
      stopHeartbeat();
      // A server that never accepted (no websockets there) is said so after a few tries.
      setStatus(opened ? "reconnecting" : attempts >= 2 ? "unavailable" : "connecting");
      const delay = Math.min(30000, 1000 * Math.pow(2, attempts)) * (0.75 + Math.random() / 2);
      attempts += 1;
      setTimeout(connect, delay);
    });
  }

  function startHeartbeat(ws) {
    stopHeartbeat();
    heartbeat = setInterval(function () {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(JSON.stringify({ type: "ping" }));
      clearTimeout(pongTimer);
      pongTimer = setTimeout(function () {
        ws.close(); // no answer: a dead connection; "close" reconnects
      }, PONG_TIMEOUT_MS);
    }, HEARTBEAT_MS);
  }

  function stopHeartbeat() {
    clearInterval(heartbeat);
    clearTimeout(pongTimer);
  }

  async function catchUp() {
    catchingUp = true;
    try {
      let query = caughtUp && last !== null
        ? { after: String(Math.max(0, last - OVERLAP)) }
        : { since: String(renderedAt - SINCE_MARGIN_SECONDS) };
      for (let page = 0; page < 100; page += 1) {
        const response = await fetch(root.dataset.eventsUrl + "?" + new URLSearchParams(query), {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (!response.ok) return;
        const body = await response.json();
        body.events.forEach(dispatch);
        advance(body.lastSeq);
        if (!body.more || !body.events.length) break;
        query = { after: String(body.events[body.events.length - 1].seq) };
      }
      caughtUp = true;
    } catch (error) {
      /* offline: the next connection catches up */
    } finally {
      catchingUp = false;
      const pending = waiting.sort((a, b) => a.seq - b.seq);
      waiting = [];
      pending.forEach(dispatch);
    }
  }

  // --- The bell ---------------------------------------------------------------------------

  let unread = 0;
  let items = [];

  function renderBell() {
    bellCount.textContent = String(unread);
    bellCount.hidden = unread === 0;
    bellLabel.textContent = unread ? "Notifications, " + unread + " unread" : "Notifications";
    bellList.replaceChildren();
    if (!items.length) {
      const empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = "No notifications.";
      bellList.append(empty);
    }
    items.forEach(function (item) {
      const li = document.createElement("li");
      li.className = item.read ? "notification" : "notification unread";
      li.dataset.notificationId = String(item.id);
      const link = document.createElement("a");
      link.href = item.url;
      link.textContent = item.text;
      li.append(link);
      bellList.append(li);
    });
    if (permissionButton) {
      permissionButton.hidden = !("Notification" in window) || Notification.permission !== "default";
    }
  }

  async function loadBell() {
    try {
      const response = await fetch(root.dataset.notificationsUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) return;
      const body = await response.json();
      // Notifications that arrived live meanwhile are already counted by the server.
      unread = body.unread;
      items = body.items;
      renderBell();
    } catch (error) {
      /* the count stays as it was */
    }
  }

  function notificationArrived(event) {
    const data = event.data || {};
    if (items.some((item) => item.id === data.notificationId)) return;
    unread += 1;
    items.unshift({ id: data.notificationId, text: data.text, url: data.url, read: false });
    items = items.slice(0, BELL_SIZE);
    renderBell();
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        const shown = new Notification("Help desk", {
          body: data.text,
          tag: "helpdesk-notification-" + data.notificationId, // one per notification, all tabs
        });
        shown.addEventListener("click", function () {
          window.focus();
          location.assign(data.url);
        });
      } catch (error) {
        /* this browser shows notifications only from a service worker: the bell still rings */
      }
    }
  }

  function setPanel(open) {
    bellPanel.hidden = !open;
    bellButton.setAttribute("aria-expanded", String(open));
  }

  bellButton.addEventListener("click", function (event) {
    event.preventDefault();
    setPanel(bellPanel.hidden);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !bellPanel.hidden) {
      setPanel(false);
      bellButton.focus();
    }
  });
  document.addEventListener("click", function (event) {
    if (!bellPanel.hidden && !root.contains(event.target)) setPanel(false);
  });

  if (permissionButton) {
    permissionButton.addEventListener("click", function () {
      Notification.requestPermission().then(renderBell, renderBell);
    });
  }

  readAllButton.addEventListener("click", async function () {
    const response = await fetch(root.dataset.readAllUrl, {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRFToken": window.helpdesk.csrfToken() },
      credentials: "same-origin",
    });
    if (!response.ok) return;
    unread = 0;
    items.forEach((item) => (item.read = true));
    renderBell();
  });

  // --- Start ------------------------------------------------------------------------------

  if (!("WebSocket" in window)) {
    setStatus("off");
  } else {
    connect();
  }
  loadBell();
})();
