// A ticket's conversation (SPEC I3-I8), templates/tickets/inbox/conversation.html.
//
// - The thread: images enlarge in a dialog; the reply icon of a message makes the editor reply
//   to it; "Show earlier messages" and live events ("helpdesk:live" from live.js) fetch thread
//   items as HTML from …/messages/?before= / ?after= / …/messages/<id>/; replies still sending
//   are re-checked every few seconds until they settle; Redeliver posts without a reload.
// - The editor enforces the chosen medium's limits (#editor-config: attachment count, size,
//   total and types, rich text only as the channel allows; the server checks them again),
//   uploads attachments one by one with a progress bar, and sends with fetch (Accept: JSON).
// - "Send and set status": a status that requires properties the ticket lacks opens a dialog
//   for them first; nothing is sent until they are filled in (the server checks again).
// Without this script every form posts and the page answers with a redirect or its errors.
(function () {
  "use strict";

  const root = document.querySelector("[data-conversation]");
  if (!root) return;
  const ticketId = Number(root.dataset.ticketId);
  const messagesUrl = root.dataset.messagesUrl;
  const thread = root.querySelector("[data-testid='thread']");
  const form = document.querySelector("[data-reply-form]");
  const config = JSON.parse(document.getElementById("editor-config").textContent);
  const dialog = document.querySelector("[data-status-dialog]");
  const errorBox = form.querySelector("[data-composer-error]");
  const textarea = form.querySelector("textarea[name='text']");
  const richInput = form.querySelector("input[name='rich_text']");
  const replyToInput = form.querySelector("input[name='in_reply_to']");
  const fileInput = form.querySelector("[data-file-input]");
  const uploadList = form.querySelector("[data-upload-list]");
  const sendButton = form.querySelector("[data-send]");
  const PENDING_CHECK_MS = 2000;
  const PENDING_CHECK_LIMIT = 30;

  const { csrfToken, fragment, fetchHtml } = window.helpdesk;

  function formatBytes(bytes) {
    if (bytes >= 1024 * 1024) return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "") + " MB";
    if (bytes >= 1024) return Math.round(bytes / 1024) + " KB";
    return bytes + " bytes";
  }

  // --- The thread ---------------------------------------------------------------------------

  function nearBottom() {
    return thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
  }

  function scrollToBottom() {
    thread.scrollTop = thread.scrollHeight;
  }

  // Images and players change the thread's height as they load: a rep reading the newest
  // messages stays at the bottom; one who scrolled up keeps their place.
  let followBottom = true;
  thread.addEventListener("scroll", function () {
    followBottom = nearBottom();
  });
  thread.addEventListener(
    "load",
    function () {
      if (followBottom) scrollToBottom();
    },
    true,
  );
  thread.addEventListener(
    "loadedmetadata",
    function () {
      if (followBottom) scrollToBottom();
    },
    true,
  );

  function messageIds() {
    return Array.from(thread.querySelectorAll("[data-message-id]"), (li) => Number(li.dataset.messageId));
  }

  function lastMessageId() {
    return Math.max(0, ...messageIds());
  }

  // Adds a thread item, or replaces the one with its id (a new delivery status).
  function upsert(item) {
    const existing = thread.querySelector(`[data-message-id="${item.dataset.messageId}"]`);
    if (existing) {
      existing.replaceWith(item);
    } else {
      const empty = thread.querySelector("[data-thread-empty]");
      if (empty) empty.remove();
      thread.append(item);
    }
    watchPending(item);
  }

  async function fetchNewMessages() {
    const follow = nearBottom();
    const items = await fetchHtml(`${messagesUrl}?after=${lastMessageId()}`);
    items.querySelectorAll("[data-message-id]").forEach(upsert);
    if (follow) scrollToBottom();
  }

  async function refreshMessage(messageId) {
    const items = await fetchHtml(`${messagesUrl}${messageId}/`);
    const item = items.querySelector("[data-message-id]");
    if (item) upsert(item);
  }

  // Replies still sending are asked again until they are sent or failed, while the page has no
  // live connection (with one, message.status_changed events refresh them; live.js catches up
  // on what a dropped connection missed).
  const liveStatus = document.querySelector("[data-testid=live-status]");
  function liveIsOpen() {
    return liveStatus !== null && liveStatus.dataset.state === "open";
  }
  const pendingChecks = new Map();
  function watchPending(item) {
    const id = item.dataset.messageId;
    if (item.dataset.status !== "PENDING" || pendingChecks.has(id)) return;
    let tries = 0;
    const timer = setInterval(function () {
      const current = thread.querySelector(`[data-message-id="${id}"]`);
      tries += 1;
      if (!current || current.dataset.status !== "PENDING" || tries > PENDING_CHECK_LIMIT) {
        clearInterval(timer);
        pendingChecks.delete(id);
        return;
      }
      if (!liveIsOpen()) refreshMessage(id).catch(function () {});
    }, PENDING_CHECK_MS);
    pendingChecks.set(id, timer);
  }

  root.addEventListener("click", async function (event) {
    const earlier = event.target.closest("[data-earlier]");
    if (earlier) {
      event.preventDefault();
      const before = thread.scrollHeight;
      const items = await fetchHtml(earlier.href);
      const first = thread.firstElementChild;
      items.querySelectorAll("[data-message-id]").forEach(function (item) {
        if (!thread.querySelector(`[data-message-id="${item.dataset.messageId}"]`)) {
          thread.insertBefore(item, first);
        }
      });
      thread.scrollTop += thread.scrollHeight - before;
      const more = items.querySelector("template[data-has-earlier]");
      if (more && more.dataset.hasEarlier === "true") {
        earlier.href = `${messagesUrl}?before=${Math.min(...messageIds())}`;
      } else {
        earlier.closest(".earlier").remove();
      }
      return;
    }
    const enlarge = event.target.closest("a[data-enlarge]");
    if (enlarge) {
      const viewer = document.querySelector("[data-image-viewer]");
      if (!viewer || !viewer.showModal) return;
      event.preventDefault();
      const image = viewer.querySelector("[data-image-viewer-img]");
      image.src = enlarge.href;
      image.alt = enlarge.querySelector("img").alt;
      viewer.showModal();
      return;
    }
    const replyTo = event.target.closest("[data-reply-to]");
    if (replyTo) {
      replyToMessage(replyTo.dataset.replyTo, replyTo.dataset.quoteSender, replyTo.dataset.quoteText);
    }
  });

  thread.addEventListener("submit", async function (event) {
    const redeliver = event.target.closest("form[data-redeliver]");
    if (!redeliver) return;
    event.preventDefault();
    const button = redeliver.querySelector("button");
    button.disabled = true;
    const response = await fetch(redeliver.action, {
      method: "POST",
      credentials: "same-origin",
      body: new FormData(redeliver),
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok && body.html) {
      const item = fragment(body.html).querySelector("[data-message-id]");
      if (item) upsert(item);
    } else {
      button.disabled = false;
      const note = document.createElement("span");
      note.className = "errorlist";
      note.setAttribute("role", "alert");
      note.textContent = body.message || "The reply could not be sent again.";
      redeliver.after(note);
    }
  });

  // --- Live events --------------------------------------------------------------------------

  let newMessagesTimer = null;
  document.addEventListener("helpdesk:live", function (event) {
    const live = event.detail || {};
    if (live.ticketId !== ticketId) return;
    if (live.kind === "message.created" || live.kind === "ticket.created") {
      clearTimeout(newMessagesTimer);
      newMessagesTimer = setTimeout(() => fetchNewMessages().catch(() => {}), 100);
    } else if (live.kind === "message.status_changed" && live.messageId) {
      refreshMessage(live.messageId).catch(() => {});
    } else if (live.kind === "ticket.assigned" || live.kind === "ticket.status_changed") {
      if (live.kind === "ticket.status_changed" && live.data && live.data.status) {
        document.querySelector("[data-testid='conversation-status']").textContent = live.data.status;
      }
      refreshSidebar().catch(() => {});
    }
  });

  async function refreshSidebar() {
    const sidebar = root.querySelector("[data-sidebar]");
    const fresh = await fetchHtml(root.dataset.sidebarUrl);
    if (sidebar.contains(document.activeElement)) return; // The rep is using it: leave it be.
    sidebar.replaceChildren(fresh);
  }

  // --- Replying to one message --------------------------------------------------------------

  const quoteBox = form.querySelector("[data-quote]");
  function replyToMessage(id, sender, text) {
    replyToInput.value = id;
    quoteBox.querySelector("[data-quote-sender]").textContent = sender || "";
    quoteBox.querySelector("[data-quote-text]").textContent = text || "(attachment)";
    quoteBox.hidden = false;
    editorFocus();
  }
  function replyToNewest() {
    replyToInput.value = "";
    quoteBox.hidden = true;
  }
  form.querySelector("[data-quote-cancel]").addEventListener("click", replyToNewest);

  // --- The medium and its limits ------------------------------------------------------------

  function medium() {
    const checked = form.querySelector("input[name='medium']:checked");
    return checked ? checked.value : "";
  }

  function limits() {
    return config.limits[medium()] || { files: false, richText: [] };
  }

  function mimeAllowed(type, allowed) {
    if (!allowed || allowed.length === 0) return true;
    type = (type || "").toLowerCase();
    return allowed.some(function (pattern) {
      pattern = String(pattern).trim().toLowerCase();
      if (pattern === "*" || pattern === "*/*" || pattern === type) return true;
      return pattern.endsWith("/*") && type.startsWith(pattern.slice(0, -1));
    });
  }

  function limitsText(current) {
    if (!current.files) return "This way of replying takes no attachments.";
    const parts = [];
    if (current.maxFileAttachmentCount != null) parts.push(`up to ${current.maxFileAttachmentCount} files`);
    if (current.maxFileAttachmentSizeBytes != null) parts.push(`${formatBytes(current.maxFileAttachmentSizeBytes)} each`);
    if (current.maxTotalFileAttachmentSizeBytes != null) parts.push(`${formatBytes(current.maxTotalFileAttachmentSizeBytes)} in all`);
    if (current.allowedFileAttachmentMimeTypes && current.allowedFileAttachmentMimeTypes.length) {
      parts.push(current.allowedFileAttachmentMimeTypes.join(", "));
    }
    return parts.length ? "Attachments: " + parts.join(" · ") : "";
  }

  function applyMedium() {
    const current = limits();
    const isCall = medium() === "CALL";
    form.querySelector("[data-call-fields]").hidden = !isCall;
    form.querySelector("[data-files]").hidden = !current.files;
    form.querySelector("[data-limits-text]").textContent = limitsText(current);
    form.querySelector("[data-text-label]").textContent = isCall ? "Call note" : "Message";
    sendButton.textContent = isCall ? "Log call" : "Send";
    setRichText(current.richText || []);
    // Attachments already uploaded must fit the new medium too.
    const problems = uploads.filter((u) => u.state === "done").map((u) => fileProblem(u.file, u)).filter(Boolean);
    showError(problems.length ? problems[0] + " Remove it or choose another way of replying." : "");
  }
  form.querySelectorAll("input[name='medium']").forEach(function (input) {
    input.addEventListener("change", applyMedium);
  });

  // --- Rich text (only what the channel allows) ---------------------------------------------

  const toolbar = form.querySelector("[data-rich-toolbar]");
  const RICH_BUTTONS = [
    ["BOLD", "Bold", "B", () => document.execCommand("bold")],
    ["ITALIC", "Italic", "I", () => document.execCommand("italic")],
    ["HYPERLINK", "Link", "Link", function () {
      const url = window.prompt("Link address (https://…)");
      if (url && /^(https?:|mailto:|tel:)/i.test(url)) document.execCommand("createLink", false, url);
    }],
    ["BLOCKQUOTE", "Quote", "❝", () => document.execCommand("formatBlock", false, "blockquote")],
    ["LISTS", "Bulleted list", "• List", () => document.execCommand("insertUnorderedList")],
    ["LISTS", "Numbered list", "1. List", () => document.execCommand("insertOrderedList")],
    ["TEXT_ALIGNMENT", "Center", "Center", () => document.execCommand("justifyCenter")],
  ];
  let richEditor = null;

  function setRichText(features) {
    if (features.length === 0) {
      if (richEditor) {
        textarea.value = richEditor.innerText.trim();
        richEditor.remove();
        richEditor = null;
      }
      toolbar.hidden = true;
      toolbar.replaceChildren();
      textarea.hidden = false;
      richInput.value = "";
      return;
    }
    toolbar.replaceChildren();
    RICH_BUTTONS.filter(([feature]) => features.includes(feature)).forEach(function ([, label, text, run]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = text;
      button.title = label;
      button.setAttribute("aria-label", label);
      button.addEventListener("mousedown", (event) => event.preventDefault());
      button.addEventListener("click", function () {
        richEditor.focus();
        run();
      });
      toolbar.append(button);
    });
    toolbar.hidden = false;
    if (!richEditor) {
      richEditor = document.createElement("div");
      richEditor.className = "rich-editor";
      richEditor.contentEditable = "true";
      richEditor.setAttribute("role", "textbox");
      richEditor.setAttribute("aria-multiline", "true");
      richEditor.setAttribute("aria-label", "Message");
      richEditor.dataset.testid = "rich-editor";
      richEditor.textContent = textarea.value;
      richEditor.addEventListener("keydown", sendShortcut);
      textarea.after(richEditor);
      textarea.hidden = true;
    }
  }

  function editorFocus() {
    (richEditor || textarea).focus();
  }

  function editorClear() {
    textarea.value = "";
    richInput.value = "";
    if (richEditor) richEditor.replaceChildren();
  }

  function sendShortcut(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit(sendButton);
    }
  }
  textarea.addEventListener("keydown", sendShortcut);

  // --- Attachments --------------------------------------------------------------------------

  const uploads = [];
  fileInput.removeAttribute("name"); // Uploaded one by one below, never with the form.

  function fileProblem(file, except) {
    const current = limits();
    const others = uploads.filter((u) => u !== except && u.state !== "failed");
    if (!current.files) return `${file.name}: this way of replying takes no attachments.`;
    if (current.maxFileAttachmentCount != null && others.length + 1 > current.maxFileAttachmentCount) {
      return `${file.name}: at most ${current.maxFileAttachmentCount} files can be attached.`;
    }
    if (current.maxFileAttachmentSizeBytes != null && file.size > current.maxFileAttachmentSizeBytes) {
      return `${file.name} is larger than the limit of ${formatBytes(current.maxFileAttachmentSizeBytes)}.`;
    }
    const total = others.reduce((sum, u) => sum + u.file.size, 0) + file.size;
    if (current.maxTotalFileAttachmentSizeBytes != null && total > current.maxTotalFileAttachmentSizeBytes) {
      return `${file.name}: the files would total more than ${formatBytes(current.maxTotalFileAttachmentSizeBytes)}.`;
    }
    if (!mimeAllowed(file.type, current.allowedFileAttachmentMimeTypes)) {
      return `${file.name}: files of type ${file.type || "unknown"} are not accepted here.`;
    }
    return "";
  }

  fileInput.addEventListener("change", function () {
    const files = Array.from(fileInput.files);
    fileInput.value = "";
    const problems = [];
    files.forEach(function (file) {
      const problem = fileProblem(file, null);
      if (problem) problems.push(problem);
      else startUpload(file);
    });
    showError(problems.join(" "));
  });

  function startUpload(file) {
    const upload = { file: file, state: "uploading", id: null, xhr: new XMLHttpRequest() };
    const item = document.createElement("li");
    item.className = "upload";
    item.dataset.testid = "upload";
    const name = document.createElement("span");
    name.textContent = `${file.name} (${formatBytes(file.size)})`;
    const progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", `Uploading ${file.name}`);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove ${file.name}`);
    item.append(name, progress, remove);
    uploadList.append(item);
    upload.item = item;
    uploads.push(upload);

    remove.addEventListener("click", function () {
      if (upload.state === "uploading") upload.xhr.abort();
      uploads.splice(uploads.indexOf(upload), 1);
      item.remove();
      showError("");
    });

    const xhr = upload.xhr;
    xhr.open("POST", `${root.dataset.uploadUrl}?medium=${encodeURIComponent(medium())}`);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
    });
    xhr.addEventListener("load", function () {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch (error) {
        body = {};
      }
      if (xhr.status === 201) {
        upload.state = "done";
        upload.id = body.id;
        progress.value = 100;
        item.classList.add("is-done");
        const hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = "file_ids";
        hidden.value = body.id;
        item.append(hidden);
      } else {
        failUpload(upload, body.message || `${file.name} could not be uploaded.`);
      }
    });
    xhr.addEventListener("error", () => failUpload(upload, `${file.name} could not be uploaded.`));
    const data = new FormData();
    data.append("file", file);
    xhr.send(data);
  }

  function failUpload(upload, message) {
    upload.state = "failed";
    upload.item.classList.add("is-failed");
    upload.item.querySelector("progress").remove();
    const note = document.createElement("span");
    note.className = "errorlist";
    note.textContent = message;
    upload.item.append(note);
    showError(message);
  }

  // --- Errors -------------------------------------------------------------------------------

  function showError(message) {
    errorBox.replaceChildren();
    if (message) {
      const line = document.createElement("p");
      line.textContent = message;
      errorBox.append(line);
    }
  }

  function clearFieldErrors() {
    document.querySelectorAll("[data-field-error]").forEach((node) => node.remove());
    document.querySelectorAll(".field.has-error").forEach((node) => node.classList.remove("has-error"));
  }

  function fieldError(name, message) {
    const input = document.querySelector(`[name='${name}'][form='reply-form'], #reply-form [name='${name}']`);
    const field = input && input.closest(".field");
    if (!field) return false;
    field.classList.add("has-error");
    const note = document.createElement("ul");
    note.className = "errorlist";
    note.dataset.fieldError = "";
    const item = document.createElement("li");
    item.textContent = message;
    note.append(item);
    input.after(note);
    return true;
  }

  // --- Send, and "Send and set status" ------------------------------------------------------

  function missingProperties(statusId) {
    const status = config.statuses[statusId];
    if (!status) return [];
    return status.required.filter(function (name) {
      return !config.ticket[name];
    });
  }

  function openStatusDialog(statusId, missing) {
    dialog.querySelector("[data-status-dialog-name]").textContent = config.statuses[statusId].name;
    dialog.querySelector("[data-status-dialog-send]").value = statusId;
    dialog.querySelectorAll("[data-property]").forEach(function (field) {
      field.hidden = !missing.includes(field.dataset.property);
    });
    if (!dialog.open) dialog.showModal();
    const first = dialog.querySelector("[data-property]:not([hidden]) input, [data-property]:not([hidden]) select");
    if (first) first.focus();
  }

  dialog.querySelector("[data-status-dialog-cancel]").addEventListener("click", () => dialog.close());

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const submitter = event.submitter;
    const statusId = submitter && submitter.name === "status" ? submitter.value : "";
    const fromDialog = Boolean(submitter && submitter.hasAttribute("data-status-dialog-send"));
    form.querySelectorAll("details[open]").forEach((menu) => menu.removeAttribute("open"));
    clearFieldErrors();
    if (uploads.some((u) => u.state === "uploading")) {
      showError("Wait for the attachments to finish uploading.");
      return;
    }
    if (uploads.some((u) => u.state === "failed")) {
      showError("Remove the attachments that could not be uploaded first.");
      return;
    }
    if (statusId) {
      const missing = missingProperties(statusId);
      if (fromDialog) {
        const empty = Array.from(dialog.querySelectorAll("[data-property]:not([hidden])")).filter(function (field) {
          const input = field.querySelector("input, select");
          return input && !input.value.trim();
        });
        empty.forEach((field) => fieldError(field.querySelector("input, select").name, "This status requires it."));
        if (empty.length) return;
      } else if (missing.length) {
        openStatusDialog(statusId, missing);
        return;
      }
    }
    send(statusId);
  });

  async function send(statusId) {
    const data = new FormData(form);
    if (richEditor) {
      data.set("text", richEditor.innerText.trim());
      data.set("rich_text", richEditor.innerHTML);
    }
    data.delete("status");
    if (statusId) data.set("status", statusId);
    form.querySelectorAll("button[type='submit'], summary").forEach((b) => b.setAttribute("aria-disabled", "true"));
    sendButton.disabled = true;
    let response;
    let body = {};
    try {
      response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        body: data,
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      });
      body = await response.json().catch(() => ({}));
    } catch (error) {
      body = { message: "The reply could not reach the help desk; try again." };
    } finally {
      sendButton.disabled = false;
      form.querySelectorAll("[aria-disabled]").forEach((b) => b.removeAttribute("aria-disabled"));
    }
    if (response && response.ok && body.ok) {
      sent(body, statusId);
      return;
    }
    const errors = body.errors || {};
    let placed = false;
    Object.keys(errors).forEach(function (name) {
      if (name.startsWith("set_") && statusId) {
        openStatusDialog(statusId, [name.slice(4)]);
      }
      placed = fieldError(name, errors[name][0]) || placed;
    });
    showError(body.message || (placed ? "" : "The reply was not sent."));
  }

  function sent(body, statusId) {
    const item = fragment(body.html).querySelector("[data-message-id]");
    if (item) upsert(item);
    scrollToBottom();
    if (statusId) {
      dialog.querySelectorAll("[data-property]").forEach(function (field) {
        const input = field.querySelector("input, select");
        if (input && input.value) config.ticket[field.dataset.property] = input.value;
        if (input) input.value = "";
      });
      if (dialog.open) dialog.close();
      if (body.status) document.querySelector("[data-testid='conversation-status']").textContent = body.status;
    }
    if (body.sidebar) root.querySelector("[data-sidebar]").replaceChildren(fragment(body.sidebar));
    editorClear();
    replyToNewest();
    uploads.splice(0).forEach((u) => u.item.remove());
    form.querySelectorAll("[data-call-fields] input, [data-call-fields] select").forEach((input) => {
      input.value = "";
    });
    showError("");
    editorFocus();
  }

  // Escape closes the status menu; so does a click elsewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    form.querySelectorAll("details[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", function (event) {
    form.querySelectorAll("details[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  // --- Start --------------------------------------------------------------------------------

  const serverError = errorBox.textContent.trim();
  applyMedium();
  if (serverError) showError(serverError);
  thread.querySelectorAll("[data-message-id]").forEach(watchPending);
  scrollToBottom();
  if (dialog.hasAttribute("open") && dialog.showModal) {
    dialog.close();
    dialog.showModal();
  }
})();
