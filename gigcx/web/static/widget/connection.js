/* GigCX customer widget: the conversation's state, opening and closing, the socket and the case. */

var socket = null;
var connected = false;
var refused = false;
var isOpen = false;
var current = null;          // the case on screen (payload merged from acks and events)
var rendered = {};           // seq -> <li>, the messages of `current`
var pendingEls = {};         // client_id -> <li>, our messages not yet stored by the server
var maxSeq = 0;
var inflight = {};           // client_id -> true while an emit waits for its ack
var flushing = false;
var typingTimer = null;
var lastTypingSent = 0;
var patienceTimer = null;
var hideSuggestions = false;

/* ---------------------------------------------------------------- open / close */

function setOpen(open, quiet) {
  isOpen = open;
  ui.panel.hidden = !open;
  ui.root.classList.toggle("open", open);
  ui.launcher.setAttribute("aria-expanded", open ? "true" : "false");
  try { // per tab: a reload keeps the chat open, a new tab starts closed
    window.sessionStorage.setItem(KEY + ":open", open ? "1" : "");
  } catch (e) { /* storage disabled */ }
  if (open) {
    ensureSocket();
    markSeen();
    if (!quiet) focusFirst();
  } else if (!quiet) {
    ui.launcher.focus();
  }
  fire(open ? "open" : "close", {});
}

function focusFirst() {
  if (!ui.composer.hidden) ui.input.focus();
  else {
    var first = ui.card.querySelector("input,button,textarea");
    (first || ui.close).focus();
  }
}

ui.panel.addEventListener("keydown", function (e) {
  if (e.key === "Escape") {
    e.stopPropagation();
    setOpen(false);
  }
});

/* ---------------------------------------------------------------- socket */

function ensureSocket() {
  if (socket) return;
  socket = io(ORIGIN + PREFIX + "/customer", {
    path: PREFIX + "/socket.io",
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    timeout: 10000,
    autoConnect: navigator.onLine !== false,
    auth: function (cb) {
      var token = load().token;
      var auth = token ? { brand: BRAND, token: token } : { brand: BRAND };
      if (USER_ID && USER_HASH) { auth.user_id = USER_ID; auth.user_hash = USER_HASH; }
      cb(auth);
    }
  });
  socket.on("session", onSession);
  socket.on("case", onCaseEvent);
  socket.on("message", function (m) { if (current && m && m.case_id === current.id) addMessage(m); });
  socket.on("typing", onTyping);
  socket.on("disconnect", function () { connected = false; render(); });
  socket.on("connect_error", function (err) {
    connected = false;
    if (!socket.active) { // refused by the server (e.g. unknown brand): do not retry
      refused = true;
      console.error("GigCX widget: " + (err && err.message));
    }
    render();
  });
}

function call(event, data) {
  return new Promise(function (resolve) {
    if (!socket || !connected) {
      resolve({ ok: false, error: { code: "offline", message: "not connected" } });
      return;
    }
    socket.timeout(CALL_TIMEOUT_MS).emit(event, data, function (err, ack) {
      resolve(err || !ack ? { ok: false, error: { code: "timeout", message: "no answer" } } : ack);
    });
  });
}

function onSession(data) {
  if (!data || typeof data.token !== "string") return;
  save(function (s) { s.token = data.token; });
  connected = true;
  refused = false;
  render();
  resume();
}

/** After every (re)connection: find our case, fetch what we missed, send what we queued. */
function resume() {
  return call("cases", {}).then(function (ack) {
    if (!ack.ok) return;
    if (current && !find(ack.cases, current.id)) reset(); // a new customer (token unknown to the server)
    var chosen = current ? find(ack.cases, current.id) : choose(ack.cases);
    if (chosen) {
      if (!current || current.id !== chosen.id) setCase(chosen);
      else mergeCase(chosen);
      return syncCase();
    }
  }).then(flushOutbox);
}

function find(list, id) {
  for (var i = 0; i < list.length; i++) if (list[i].id === id) return list[i];
  return null;
}

/** The newest open case, else the newest finished one still waiting for a rating. */
function choose(list) {
  var s = load();
  var dismissed = s.dismissed || [];
  var rated = s.rated || [];
  for (var i = 0; i < list.length; i++) if (OPEN_SET[list[i].status]) return list[i];
  var newest = list[0];
  if (newest && dismissed.indexOf(newest.id) < 0 && rated.indexOf(newest.id) < 0 && !newest.deflected) return newest;
  return null;
}

function syncCase() {
  if (!current) return Promise.resolve();
  var id = current.id;
  return call("sync", { case_id: id, after_seq: maxSeq }).then(function (ack) {
    if (!ack.ok || !current || current.id !== id) return;
    mergeCase(ack.case);
    ack.messages.forEach(addMessage);
  });
}

/* ---------------------------------------------------------------- cases */

function setCase(c) {
  current = {};
  rendered = {};
  maxSeq = 0;
  hideSuggestions = false;
  // Keep only the pending bubbles of queued messages (the question of this case among them).
  while (ui.log.firstChild) ui.log.removeChild(ui.log.firstChild);
  var old = pendingEls;
  pendingEls = {};
  outbox().forEach(function (item) {
    if (item.kind === "ask" || item.case_id === c.id) {
      if (old[item.client_id]) ui.log.appendChild((pendingEls[item.client_id] = old[item.client_id]));
      else pendingEl(item, canSend() ? "sending" : "queued");
    }
  });
  mergeCase(c);
}

function mergeCase(c) {
  if (!c) return;
  // Acks and events are snapshots that can arrive out of order (an ask's ack after the accept's
  // event): keep the newest by the server's revision.
  if (typeof c.rev === "number" && typeof current.rev === "number" && c.rev < current.rev) return;
  var before = current && current.status;
  for (var k in c) if (Object.prototype.hasOwnProperty.call(c, k)) current[k] = c[k];
  if (c.status !== before) fire("status", { case_id: current.id, status: current.status });
  render();
}

function onCaseEvent(c) {
  if (!c) return;
  if (current && c.id === current.id) mergeCase(c);
  else if (!current && OPEN_SET[c.status]) { // opened from another tab of this customer
    setCase(c);
    syncCase();
  }
}
