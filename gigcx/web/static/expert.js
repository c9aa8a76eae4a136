// The expert console: log in, apply to programs, take offers, chat, resolve/escalate, earnings.
import { $, $$, api, ApiError, clear, el, form, messageItem, money, say, tabs, tokenStore, uid, when } from "./common.js";
import { bindAccount, loadEarnings, loadProfile } from "./account.js";
import { expertPreferences } from "./notify.js";

const store = tokenStore("gigcx.expert");
const wantOnline = tokenStore("gigcx.expert.online");
let me = null;           // {token, expert_id}
let socket = null;
const offers = new Map(); // case_id -> {offer, node, timer}
const chats = new Map();  // case_id -> {case, node, log, lastSeq, question}

const msg = $("#app-msg");
const error = (e) => say(msg, e instanceof ApiError ? e.message : String(e && e.message || e), "error");

// What account.js reads from here (a getter: `me` changes on login).
bindAccount({ get me() { return me; }, error, msg });

// --- auth -------------------------------------------------------------------------------------
$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = form(ev.target);
  try {
    const r = await api("POST", "/auth/token", { body: { email: f.email, password: f.password } });
    store.set({ token: r.token, expert_id: r.expert_id });
    start();
  } catch (e) { say($("#auth-msg"), e.message, "error"); }
});

$("#signup-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = form(ev.target);
  const languages = (f.languages || "").split(",").map((s) => s.trim()).filter(Boolean);
  try {
    await api("POST", "/experts", { body: { email: f.email, password: f.password, display_name: f.display_name, languages } });
    const r = await api("POST", "/auth/token", { body: { email: f.email, password: f.password } });
    store.set({ token: r.token, expert_id: r.expert_id });
    location.hash = "programs";
    start();
  } catch (e) { say($("#auth-msg"), e.message, "error"); }
});

$("#logout").addEventListener("click", async () => {
  try { await api("DELETE", "/auth/token", { token: me.token }); } catch (e) { /* already revoked */ }
  store.clear(); wantOnline.clear();
  if (socket) socket.disconnect();
  location.replace(location.pathname);
});

// --- app --------------------------------------------------------------------------------------
const show = tabs((name) => {
  say(msg, "");  // a notice belongs to the page it was shown on
  if (name === "programs") loadPrograms();
  else if (name === "earnings") loadEarnings();
  else if (name === "profile") {
    loadProfile();
    expertPreferences($("#notify-prefs"), me.token, { ok: (t) => say(msg, t, "ok"), error }).catch(error);
  }
});

async function start() {
  me = store.get();
  if (!me) { $("#auth").hidden = false; $("#app").hidden = true; return; }
  let profile;
  try { profile = await api("GET", "/experts/me", { token: me.token }); } catch (e) {
    if (e.status === 401) { store.clear(); $("#auth").hidden = false; return; }
    throw e;
  }
  $("#auth").hidden = true; $("#app").hidden = false;
  $("#logout").hidden = false; $("#online").hidden = false;
  $("#who").textContent = profile.display_name;
  connect();
  show(location.hash.slice(1) || "work");
  // the link of an "a question is waiting" e-mail: /expert/?case=ID#work
  const linked = Number(new URLSearchParams(location.search).get("case"));
  if (linked > 0 && !chats.has(linked)) {
    say(msg, `A question is waiting for you (case #${linked}). ` +
      (wantOnline.get() ? "Its offer appears here if it is still open." : "Go online to receive its offer."), "info");
  }
}

function connect() {
  socket = window.io("/expert", { auth: { token: me.token }, transports: ["websocket"] });
  socket.on("connect", async () => {
    if (connectionNoticed) connectionNotice("");
    if (wantOnline.get()) await setOnline(true);
    else renderOnline(false);
    const r = await socket.emitWithAck("cases", {});
    if (!r.ok) return error(r.error);
    // After a reconnect: an offer taken by someone else or withdrawn while this console was
    // away sent its offer_withdrawn to nobody; what the server no longer holds open goes.
    const open = new Set(r.offers.map((o) => o.case_id));
    const gone = [...offers.keys()].filter((id) => !open.has(id));
    for (const id of gone) dropOffer(id);
    if (gone.length) say(msg, gone.length === 1 ? "An offer was withdrawn while you were disconnected."
      : `${gone.length} offers were withdrawn while you were disconnected.`, "info");
    for (const o of r.offers) addOffer(o);
    // Open chats catch up on what they missed: messages, and the case's status (closed, say).
    for (const chat of [...chats.values()]) await catchUp(chat);
    for (const c of r.cases) await openChat(c.id);
  });
  socket.on("disconnect", (reason) => {
    // "io client disconnect" is our own (log out, or the browser went offline: said below)
    if (reason !== "io client disconnect") connectionNotice("Connection lost: reconnecting…");
  });
  socket.on("connect_error", (e) => say(msg, "Connection problem: " + e.message, "error"));
  // the token was revoked, or the expert suspended: the server disconnects right after this
  socket.on("session_ended", (d) => say(msg, "Your session ended (" + d.reason.replace("_", " ") + "). Log in again to continue.", "error"));
  socket.on("offer", addOffer);
  socket.on("offer_withdrawn", (d) => dropOffer(d.case_id, "This offer was withdrawn."));
  socket.on("case", (c) => {
    const chat = chats.get(c.id);
    if (chat) updateChat(chat, c);
    else { const e = early(c.id); if (!e.case || !(c.rev < e.case.rev)) e.case = c; }
  });
  socket.on("message", (m) => {
    const chat = chats.get(m.case_id);
    if (chat) addMessage(chat, m);
    else if (early(m.case_id).messages.length < 500) early(m.case_id).messages.push(m);
  });
  socket.on("typing", (t) => {
    const chat = chats.get(t.case_id);
    if (!chat || t.sender === "expert") return;
    chat.typing.hidden = false;
    clearTimeout(chat.typingTimer);
    chat.typingTimer = setTimeout(() => { chat.typing.hidden = true; }, 4000);
  });
}

// The browser knows before the socket does: leave at once, and come back with the network.
window.addEventListener("offline", () => {
  if (!socket) return;
  socket.disconnect();
  connectionNotice("You are offline: offers and messages arrive when you are back online.");
});
window.addEventListener("online", () => {
  if (socket && !socket.connected) socket.connect();
});
// A notice about the connection, cleared by the next connect (and only that kind of notice).
let connectionNoticed = false;
function connectionNotice(text) {
  connectionNoticed = Boolean(text);
  if (text || msg.textContent) say(msg, text, "error");
}

async function call(event, data) {
  const r = await socket.emitWithAck(event, data);
  if (!r.ok) throw new ApiError(0, r.error.code, r.error.message);
  return r;
}

// --- availability -----------------------------------------------------------------------------
function renderOnline(on) {
  const b = $("#online");
  b.textContent = on ? "Go offline" : "Go online";
  b.setAttribute("aria-pressed", on ? "true" : "false");
  const presence = $("#presence");
  presence.textContent = on ? "You are online: offers arrive here." : "You are offline. Go online to receive offers.";
  presence.className = "presence " + (on ? "on" : "off");
  b.className = on ? "" : "primary";
}
async function setOnline(on) {
  try {
    const r = await call("availability", { online: on });
    wantOnline.set(r.online || null);
    if (!r.online) wantOnline.clear();
    renderOnline(r.online);
  } catch (e) { error(e); }
}
$("#online").addEventListener("click", () => setOnline($("#online").getAttribute("aria-pressed") !== "true"));

// --- names ------------------------------------------------------------------------------------
// Offers and cases name the brand and topic by slug; the brand's public program page has their
// names. Fetched once per brand; until then (or if it fails) the slug stands in.
const programs = new Map(); // brand slug -> Promise<{name, topics: {slug: name}}>
function brandNames(slug) {
  if (!slug) return Promise.resolve(null);
  if (!programs.has(slug)) {
    programs.set(slug, api("GET", "/brands/" + encodeURIComponent(slug) + "/program").then(
      (p) => ({ name: p.name, topics: Object.fromEntries(p.topics.map((t) => [t.slug, t.name])) }),
      () => null));
  }
  return programs.get(slug);
}
function humanize(slug) { return slug ? (slug.charAt(0).toUpperCase() + slug.slice(1)).replace(/[_-]+/g, " ") : "General question"; }
// A heading "Brand · Topic" that shows names as soon as they are known.
function caseTitle(brand, topic, prefix = "") {
  const node = el("strong", { class: "case-title" }, prefix + humanize(topic));
  brandNames(brand).then((n) => {
    node.textContent = prefix + (n ? (topic ? n.topics[topic] || humanize(topic) : "General question") + " · " + n.name : humanize(topic));
  });
  return node;
}

// --- offers -----------------------------------------------------------------------------------
function hintList(hints) {
  if (!hints || !hints.length) return null;
  return el("details", { class: "hints-box", open: true },
    el("summary", {}, "Suggested answers"),
    el("ol", { class: "hints" }, hints.map((h) => el("li", {}, el("span", { class: "a" }, h.answer)))));
}

function addOffer(o) {
  if (offers.has(o.case_id) || chats.has(o.case_id)) return;
  const count = el("span", { class: "countdown" });
  const node = el("div", { class: "card offer", dataset: { caseId: o.case_id } },
    el("div", { class: "row" }, caseTitle(o.brand, o.topic),
      el("span", { class: "pill reward" }, money(o.reward_cents)), count),
    el("p", { class: "question" }, o.question),
    hintList(o.hints),
    el("p", { class: "row" },
      el("button", { type: "button", class: "primary", onclick: () => accept(o.case_id) }, "Accept"),
      el("button", { type: "button", onclick: () => decline(o.case_id) }, "Decline")));
  const tick = () => {
    const left = Math.max(0, Math.round((Date.parse(o.expires_at) - Date.now()) / 1000));
    count.textContent = left + " s left";
    if (left <= 0) dropOffer(o.case_id, "An offer expired.");
  };
  const timer = setInterval(tick, 1000);
  offers.set(o.case_id, { offer: o, node, timer });
  tick();
  renderOffers();
}

function dropOffer(caseId, why) {
  const o = offers.get(caseId);
  if (!o) return;
  clearInterval(o.timer);
  offers.delete(caseId);
  renderOffers();
  if (why) say(msg, why, "info");
}

function renderOffers() {
  const box = clear($("#offers"));
  if (!offers.size) box.append(el("p", { class: "muted" }, "No offers right now."));
  for (const o of offers.values()) box.append(o.node);
  const badge = $("#offer-count");
  badge.textContent = String(offers.size);
  badge.hidden = !offers.size;
}

async function accept(caseId) {
  try {
    const r = await call("accept", { case_id: caseId });
    const o = offers.get(caseId);
    dropOffer(caseId);
    await openChat(caseId, r, o && o.offer.hints, o && o.offer);
    say(msg, "", "info");
  } catch (e) { dropOffer(caseId); error(e); }
}

async function decline(caseId) {
  try { await call("decline", { case_id: caseId }); } catch (e) { error(e); }
  dropOffer(caseId);
}

// --- chats ------------------------------------------------------------------------------------
// Events for a case whose chat is not open yet. Acks and events arrive in either order: a
// customer's message sent just after the accept can come before the accept's ack, and must not
// be dropped. Kept per case (the newest `case`, every message) until the chat opens.
const pending = new Map();
function early(caseId) {
  let e = pending.get(caseId);
  if (!e) {
    pending.set(caseId, (e = { case: null, messages: [] }));
    if (pending.size > 50) pending.delete(pending.keys().next().value); // cases never opened here
  }
  return e;
}

async function openChat(caseId, synced, hints, offerFor) {
  if (chats.has(caseId)) return;
  const r = synced || await call("sync", { case_id: caseId, after_seq: 0 });
  if (chats.has(caseId)) return; // opened meanwhile (an accept and a reconnection's resume)
  const c = r.case;
  const log = el("ul", { class: "log", "aria-live": "polite" });
  const status = el("span", { class: "pill" });
  const typing = el("p", { class: "muted typing", hidden: true }, "The customer is typing…");
  const input = el("textarea", { name: "text", rows: 2, maxlength: 4000, required: true, "aria-label": "Your answer" });
  const reason = el("input", { name: "reason", maxlength: 4000, placeholder: "Why does staff need to take over?", "aria-label": "Escalation reason" });
  const suggestions = hints || (c.suggestions || []).map((s) => ({ id: s.id, answer: s.answer }));
  const chat = { case: c, log, status, typing, input, lastSeq: 0, seen: new Set() };
  const composer = el("form", { class: "composer" },
    input,
    el("p", { class: "row" },
      el("button", { type: "submit", class: "primary" }, "Send"),
      el("button", { type: "button", class: "resolve", onclick: () => act(chat, "resolve") }, "Propose resolution")));
  composer.addEventListener("submit", (ev) => { ev.preventDefault(); send(chat); });
  input.addEventListener("input", () => {
    if (Date.now() - (chat.lastTyping || 0) > 3000) { chat.lastTyping = Date.now(); socket.emit("typing", { case_id: caseId }); }
  });
  input.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); send(chat); } });
  const escalate = el("form", { class: "row fill escalate" }, reason, el("button", { type: "submit", class: "danger" }, "Escalate"));
  escalate.addEventListener("submit", (ev) => { ev.preventDefault(); if (reason.value.trim()) act(chat, "escalate", { reason: reason.value.trim() }); });
  const hintBox = hintList(suggestions);
  if (hintBox) {
    for (const li of $$("li", hintBox)) {
      li.append(el("button", { type: "button", class: "use-hint", onclick: () => { input.value = $(".a", li).textContent; input.focus(); } }, "Use"));
    }
  }
  chat.controls = [composer, escalate];
  chat.node = el("article", { class: "card chat", dataset: { caseId } },
    el("div", { class: "row" }, caseTitle(c.brand || (offerFor && offerFor.brand), c.topic, "#" + caseId + " · "), status),
    hintBox, log, typing, composer, escalate);
  chats.set(caseId, chat);
  const box = $("#chats");
  if (chats.size === 1) clear(box);
  box.prepend(chat.node);
  const e = pending.get(caseId);
  pending.delete(caseId);
  for (const m of r.messages.concat(e ? e.messages : [])) addMessage(chat, m);
  updateChat(chat, c);
  if (e && e.case) updateChat(chat, e.case);
}

async function catchUp(chat) {
  let after = 0;
  while (chat.seen.has(after + 1)) after++;
  try {
    const r = await call("sync", { case_id: chat.case.id, after_seq: after });
    for (const m of r.messages) addMessage(chat, m);
    updateChat(chat, r.case);
  } catch (e) { error(e); }
}

function addMessage(chat, m) {
  if (chat.seen.has(m.seq)) return;
  chat.seen.add(m.seq);
  const item = messageItem(m, "expert");
  const later = $$("li[data-seq]", chat.log).find((li) => Number(li.dataset.seq) > m.seq);
  chat.log.insertBefore(item, later || null);
  chat.log.scrollTop = chat.log.scrollHeight;
  if (m.sender === "customer") chat.typing.hidden = true;
}

function updateChat(chat, c) {
  // Acks and events can arrive out of order: keep the newest snapshot by the server's revision.
  if (typeof c.rev === "number" && typeof chat.case.rev === "number" && c.rev < chat.case.rev) return;
  chat.case = { ...chat.case, ...c };
  chat.status.textContent = c.status.replace("_", " ");
  chat.status.className = "pill " + c.status;
  const open = c.status === "active" || c.status === "pending_confirmation";
  for (const n of chat.controls) n.hidden = !open;
  // Proposed: the customer decides now; the button would only invite a second, refused proposal.
  $(".resolve", chat.node).hidden = c.status !== "active";
  const waiting = $(".waiting", chat.node);
  if (c.status === "pending_confirmation" && !waiting) {
    $(".composer", chat.node).append(el("p", { class: "muted waiting" }, "You proposed a resolution: waiting for the customer to confirm."));
  } else if (c.status !== "pending_confirmation" && waiting) waiting.remove();
}

async function send(chat) {
  const text = chat.input.value.trim();
  if (!text) return;
  try {
    const r = await call("message", { case_id: chat.case.id, text, client_id: uid() });
    chat.input.value = "";
    addMessage(chat, r.message);
  } catch (e) { error(e); }
}

async function act(chat, event, extra = {}) {
  try {
    const r = await call(event, { case_id: chat.case.id, ...extra });
    updateChat(chat, r.case);
  } catch (e) { error(e); }
}

// --- programs ---------------------------------------------------------------------------------
let program = null;
$("#program-lookup").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const slug = form(ev.target).brand.toLowerCase();
  try {
    program = await api("GET", "/brands/" + encodeURIComponent(slug) + "/program");
  } catch (e) { $("#apply-form").hidden = true; return error(e); }
  $("#apply-brand").textContent = program.name + " (" + program.slug + ")";
  const fs = $("#apply-topics");
  for (const n of $$("label", fs)) n.remove();
  for (const t of program.topics) {
    fs.append(el("label", { class: "inline" }, el("input", { type: "checkbox", name: "topic", value: t.slug }),
      t.name + " · " + money(t.reward_cents, program.currency)));
  }
  if (!program.topics.length) fs.append(el("label", {}, "This brand has no topics yet."));
  $("#apply-form").hidden = false;
});

$("#apply-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const topics = $$("input[name=topic]:checked", ev.target).map((i) => i.value);
  if (!topics.length) return say(msg, "Choose at least one topic.", "error");
  try {
    await api("POST", "/experts/me/programs", { token: me.token, body: { brand: program.slug, topics } });
    say(msg, "Applied to " + program.name + ". The brand will review your application.", "ok");
    $("#apply-form").hidden = true;
    loadPrograms();
  } catch (e) { error(e); }
});

async function loadPrograms() {
  try {
    const p = await api("GET", "/experts/me", { token: me.token });
    const body = clear($("#programs"));
    for (const x of p.programs) {
      const row = el("tr", {}, el("td", {}, x.brand), el("td", {}, el("span", { class: "pill " + x.status }, x.status)),
        el("td", {}, x.topics.map(humanize).join(", ") || "–"), el("td", {}, x.requested_topics.map(humanize).join(", ")));
      body.append(row);
      brandNames(x.brand).then((n) => {
        if (!n) return;
        const name = (t) => n.topics[t] || humanize(t);
        row.cells[0].textContent = n.name;
        row.cells[2].textContent = x.topics.map(name).join(", ") || "–";
        row.cells[3].textContent = x.requested_topics.map(name).join(", ");
      });
    }
    if (!p.programs.length) body.append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "No programs yet: find a brand above.")));
  } catch (e) { error(e); }
}

start().catch(error);
