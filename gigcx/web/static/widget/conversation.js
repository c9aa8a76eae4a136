/* GigCX customer widget: messages in the log, sending with the offline queue, typing. */

function addMessage(m) {
  if (!m || typeof m.seq !== "number" || rendered[m.seq]) return; // never twice
  if (m.client_id && pendingEls[m.client_id]) {
    pendingEls[m.client_id].remove();
    delete pendingEls[m.client_id];
  }
  var li = messageEl(m.sender, m.text, m.sent_at);
  li.setAttribute("data-seq", String(m.seq));
  var after = null;
  for (var s in rendered) {
    if (Number(s) > m.seq && (!after || Number(s) < Number(after.getAttribute("data-seq")))) after = rendered[s];
  }
  if (!after) after = ui.log.querySelector(".pending");
  ui.log.insertBefore(li, after);
  rendered[m.seq] = li;
  if (m.seq > maxSeq) maxSeq = m.seq;
  if (m.sender === "expert" || m.sender === "staff") hideTyping();
  if (isOpen) markSeen();
  else updateBadge();
  scrollDown();
}

function messageEl(sender, text, sentAt) {
  var who = { customer: t("you"), expert: expertName() || t("expert"), staff: t("staff"), system: t("system") }[sender] || "";
  var when = "";
  if (sentAt) {
    var d = new Date(sentAt);
    if (!isNaN(d)) when = d.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" });
  }
  return el("li", { class: "msg " + (sender || "system") }, [
    el("span", { class: "who", text: who }),
    el("span", { class: "text", text: String(text) }),
    when ? el("time", { class: "when", datetime: sentAt, text: when }) : null
  ]);
}

function pendingEl(item, state) {
  var li = pendingEls[item.client_id];
  if (!li) {
    li = messageEl("customer", item.text, null);
    li.classList.add("pending");
    li.appendChild(el("span", { class: "when state" }));
    pendingEls[item.client_id] = li;
    ui.log.appendChild(li);
  }
  li.classList.toggle("failed", state === "failed");
  li.querySelector(".state").textContent = state === "failed" ? t("failed", { reason: item.reason || "" })
    : state === "queued" ? t("queued") : t("sending");
  scrollDown();
  return li;
}

function scrollDown() {
  ui.body.scrollTop = ui.body.scrollHeight;
}

function markSeen() {
  if (!current) return updateBadge();
  var id = current.id;
  save(function (s) {
    s.seen = s.seen || {};
    if (!s.seen[id] || s.seen[id] < maxSeq) s.seen[id] = maxSeq;
  });
  updateBadge();
}

function updateBadge() {
  var n = 0;
  if (current && !isOpen) {
    var seen = (load().seen || {})[current.id] || 0;
    for (var s in rendered) {
      var cls = rendered[s].className;
      if (Number(s) > seen && (cls.indexOf("expert") >= 0 || cls.indexOf("staff") >= 0)) n++;
    }
  }
  ui.badge.hidden = n === 0;
  ui.badge.textContent = t("unread", { n: n });
  ui.launcher.setAttribute("aria-label", n ? t("launcherLabel") + " (" + t("unreadLabel", { n: n }) + ")" : t("launcherLabel"));
}

/* ---------------------------------------------------------------- sending (with the offline queue) */

function submit(text) {
  text = text.trim();
  if (!text) return;
  var item = current
    ? { kind: "message", case_id: current.id, text: text, client_id: uuid() }
    : { kind: "ask", text: text, client_id: uuid(), language: LANG };
  save(function (s) { (s.outbox = s.outbox || []).push(item); });
  if (!current) ui.intro.hidden = true;
  pendingEl(item, canSend() ? "sending" : "queued");
  ensureSocket();
  flushOutbox();
}

function canSend() {
  return connected && navigator.onLine !== false;
}

/** Send queued items in order, each until acknowledged; the server dedupes by client_id. */
function flushOutbox() {
  if (flushing || !canSend()) return;
  var item = outbox().filter(function (i) { return !inflight[i.client_id]; })[0];
  if (!item) return;
  flushing = true;
  inflight[item.client_id] = true;
  if (pendingEls[item.client_id]) pendingEl(item, "sending");
  var data = item.kind === "ask"
    ? { text: item.text, client_id: item.client_id, language: item.language }
    : { case_id: item.case_id, text: item.text, client_id: item.client_id };
  call(item.kind, data).then(function (ack) {
    delete inflight[item.client_id];
    flushing = false;
    var code = ack.ok ? null : ack.error && ack.error.code;
    if (code === "overloaded") { // the server sheds load: same item, same client_id, a bit later
      if (pendingEls[item.client_id]) pendingEl(item, "sending");
      setTimeout(flushOutbox, Math.min((ack.error.retry_after_ms || 500) + Math.random() * 500, 10000));
      return;
    }
    var retry = code === "offline" || code === "timeout" || code === "internal" || code === "rate_limited";
    if (retry) {
      if (pendingEls[item.client_id]) pendingEl(item, canSend() ? "sending" : "queued");
      return; // stays queued; sent again on the next connection
    }
    if (ack.ok && item.kind === "ask") {
      if (current && current.id === ack.case.id) mergeCase(ack.case);
      else setCase(ack.case); // keeps the question's bubble until the stored one arrives
    }
    save(function (s) {
      s.outbox = (s.outbox || []).filter(function (i) { return i.client_id !== item.client_id; });
    });
    if (ack.ok && item.kind === "ask") {
      syncCase();
    } else if (ack.ok) {
      if (current && ack.message.case_id === current.id) addMessage(ack.message);
    } else if (pendingEls[item.client_id]) {
      item.reason = (ack.error && ack.error.message) || "";
      pendingEl(item, "failed");
    }
    flushOutbox();
  });
}

ui.composer.addEventListener("submit", function (e) {
  e.preventDefault();
  var text = ui.input.value;
  if (!text.trim()) return;
  ui.input.value = "";
  autoGrow();
  submit(text);
});

ui.input.addEventListener("keydown", function (e) {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    ui.composer.requestSubmit ? ui.composer.requestSubmit() : ui.send.click();
  }
});

ui.input.addEventListener("input", function () {
  autoGrow();
  if (!current || !OPEN_SET[current.status] || !canSend()) return;
  var now = Date.now();
  if (now - lastTypingSent > 2000) {
    lastTypingSent = now;
    call("typing", { case_id: current.id });
  }
});

function autoGrow() {
  ui.input.style.height = "auto";
  ui.input.style.height = Math.min(ui.input.scrollHeight + 4, 140) + "px";
}

window.addEventListener("offline", function () {
  // The transport is most likely dead; do not wait for the ping timeout to notice.
  if (socket) socket.disconnect();
  connected = false;
  render();
});

window.addEventListener("online", function () {
  if (socket && !socket.connected) socket.connect();
  render();
});

/* ---------------------------------------------------------------- typing */

function onTyping(data) {
  if (!current || !data || data.case_id !== current.id || data.sender === "customer") return;
  var name = data.sender === "staff" ? t("staff") : (expertName() || t("someone"));
  ui.typing.textContent = t("typing", { name: name });
  ui.typing.hidden = false;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, 5000);
  scrollDown();
}

function hideTyping() {
  clearTimeout(typingTimer);
  ui.typing.hidden = true;
}
