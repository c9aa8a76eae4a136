// The brand console: dashboard, live feed, cases and QA review, escalation inbox, topics,
// expert programs, settings. Analysts get the same pages without the write controls (the API
// refuses their writes anyway).
import { $, $$, api, ApiError, clear, dur, el, form, messageItem, money, num, pct, say, senderLabel, tabs, tokenStore, uid, when } from "./common.js";
import { bindCases, loadCases, openCase, transcript } from "./cases.js";
import { bindDashboard, loadDashboard } from "./dashboard.js";
import { loadFlagged } from "./flagged.js";
import { loadIntegrations } from "./notify.js";

const store = tokenStore("gigcx.staff");
let me = null;       // {token, brand, role, name}
let settings = null; // GET /brand
let socket = null;
const msg = $("#app-msg");
const error = (e) => say(msg, e instanceof ApiError || e instanceof Error ? e.message : String(e), "error");
const ok = (text) => say(msg, text, "ok");
const canWrite = () => me && me.role !== "analyst";
const plural = (n, one, many = one + "s") => n + " " + (n === 1 ? one : many);
// A case's status as staff think of it: a case the customer closed after a suggested answer
// solved it was deflected, not "closed".
const statusOf = (c) => (c.deflected ? "deflected" : c.status);
const statusPill = (c) => el("span", { class: "pill " + statusOf(c) }, statusOf(c).replace("_", " "));
const topicNames = new Map();
const topicName = (slug) => (slug ? topicNames.get(slug) || slug.replace(/_/g, " ") : "no topic");
async function loadTopicNames() {
  const t = await api("GET", "/topics", { token: me.token });
  for (const x of t.topics) topicNames.set(x.slug, x.name);
  return t;
}
const clock = (iso) => new Date(iso || Date.now()).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

// What the dashboard and cases modules read from here (getters: `me` and `settings` change).
const ctx = { get me() { return me; }, get settings() { return settings; }, error, ok, topicName, statusPill, loadTopicNames, plural };
bindDashboard(ctx);
bindCases(ctx);

// --- auth -------------------------------------------------------------------------------------
$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = form(ev.target);
  try {
    const r = await api("POST", "/staff/token", { body: { brand: f.brand.toLowerCase(), email: f.email, password: f.password } });
    store.set({ token: r.token });
    await start();
  } catch (e) { say($("#auth-msg"), e.message, "error"); }
});

$("#logout").addEventListener("click", async () => {
  try { await api("DELETE", "/auth/token", { token: me.token }); } catch (e) { /* already revoked */ }
  store.clear();
  if (socket) socket.disconnect();
  location.replace(location.pathname);
});

const show = tabs((name) => {
  say(msg, "");  // a notice belongs to the page it was shown on
  const load = { dashboard: loadDashboard, cases: () => loadCases(false), inbox: loadInbox, answers: () => loadAnswers(false), topics: loadTopics,
    flagged: () => loadFlagged({ me, error, ok, canWrite }),
    experts: loadPrograms, settings: loadSettings,
    integrations: () => loadIntegrations($("#tab-integrations"), me, { ok, error }) }[name];
  if (load) load().catch(error);
});

async function start() {
  const saved = store.get();
  if (!saved) { $("#auth").hidden = false; return; }
  let who;
  try { who = await api("GET", "/staff/me", { token: saved.token }); } catch (e) {
    store.clear(); $("#auth").hidden = false;
    if (e.status !== 401) say($("#auth-msg"), e.message, "error");
    return;
  }
  me = { token: saved.token, brand: who.brand, role: who.role, name: who.brand_name, staff: who.staff };
  document.body.classList.toggle("ro", !canWrite());
  $("#brand-title").textContent = who.brand_name + " · GigCX";
  $("#who").textContent = (who.staff ? who.staff.display_name : "API key") + " (" + who.role + ")";
  settings = await api("GET", "/brand", { token: me.token });
  await loadTopicNames().catch(() => null);
  connect();
  refreshInboxCount();
  show(location.hash.slice(1) || "dashboard");
  // revealed only now: a tab picked while the settings were loading would be switched back to the
  // first tab by the show() above
  $("#auth").hidden = true; $("#app").hidden = false; $("#logout").hidden = false;
  // links in e-mails and chat messages: /brand/?case=ID#inbox (or #cases) open that case
  const linked = Number(new URLSearchParams(location.search).get("case"));
  if (linked > 0) (location.hash === "#inbox" ? openInbox(linked) : openCase(linked)).catch(error);
}

// --- live -------------------------------------------------------------------------------------
function connect() {
  socket = window.io("/brand", { auth: { token: me.token }, transports: ["websocket"] });
  socket.on("connect", () => {
    $("#live-state").textContent = "Live: new cases and messages appear here as they happen.";
    loadFeedHistory().catch(error);
  });
  socket.on("disconnect", () => { if (!socket.ended) $("#live-state").textContent = "Disconnected; reconnecting…"; });
  socket.on("connect_error", (e) => { $("#live-state").textContent = "Connection problem: " + e.message; });
  // the token was revoked or the staff member removed: the server disconnects right after this
  socket.on("session_ended", (d) => { socket.ended = true; $("#live-state").textContent = "Your session ended (" + d.reason.replace("_", " ") + "). Log in again to continue."; });
  socket.on("case", (c) => {
    feed(caseLine(c));
    if (c.status === "escalated" || c.status === "closed") refreshInboxCount();
    if (inbox.caseId === c.id) openInbox(c.id).catch(error);
  });
  socket.on("message", (m) => {
    const who = senderLabel(m.sender, "staff");
    feed(el("li", { class: m.sender === "system" ? "system" : null }, el("time", { datetime: m.sent_at }, clock(m.sent_at)), " ",
      el("strong", {}, "#" + m.case_id + (who ? " " + who + ":" : " ·") + " "), m.text));
    if (inbox.caseId !== m.case_id) return;
    if (inbox.early) inbox.early.push(m);
    else addInboxMessage(m);
  });
}

function caseLine(c, at) {
  return el("li", { dataset: { caseId: c.id } }, el("time", {}, clock(at)), " ", statusPill(c), " case #" + c.id + " · " + topicName(c.topic),
    c.expert ? " · " + c.expert.display_name : "", c.escalation_reason ? " · reason: " + c.escalation_reason : "",
    c.question && (c.status === "matching" || at) ? el("span", { class: "muted" }, " · “" + c.question + "”") : null);
}

// The feed starts with the latest cases (what happened before the page opened), then goes live.
let feedLoaded = false;
async function loadFeedHistory() {
  if (feedLoaded) return;
  feedLoaded = true;
  const r = await api("GET", "/cases?limit=20", { token: me.token });
  const list = $("#feed");
  for (const c of r.cases) list.append(caseLine(c, c.created_at));
  if (!r.cases.length && !list.children.length) list.append(el("li", { class: "muted empty" }, "No cases yet: they appear here as customers ask."));
}

function feed(item) {
  const empty = $("#feed li.empty");
  if (empty) empty.remove();
  const list = $("#feed");
  list.prepend(item);
  while (list.children.length > 200) list.lastChild.remove();
}

// --- inbox ------------------------------------------------------------------------------------
// The escalated case open in the inbox. While its transcript loads, arriving messages wait in
// `early` (the transcript may have been read before they were stored); a redraw after a `case`
// event keeps the reply being typed in `input`.
const inbox = { caseId: null, log: null, early: null, input: null };

function addInboxMessage(m) {
  if ($(`li[data-seq="${m.seq}"]`, inbox.log)) return;
  const later = $$("li[data-seq]", inbox.log).find((li) => Number(li.dataset.seq) > m.seq);
  inbox.log.insertBefore(messageItem(m, "staff"), later || null);
}

async function refreshInboxCount() {
  try {
    const r = await api("GET", "/cases?status=escalated&limit=200", { token: me.token });
    const badge = $("#inbox-count");
    badge.textContent = String(r.cases.length);
    badge.hidden = !r.cases.length;
    return r;
  } catch (e) { error(e); return { cases: [] }; }
}

async function loadInbox() {
  const r = await refreshInboxCount();
  const list = clear($("#inbox"));
  for (const c of r.cases) {
    list.append(el("li", {}, el("button", { type: "button", onclick: () => openInbox(c.id).catch(error) },
      "#" + c.id + " · " + topicName(c.topic)), " ", c.question,
      c.escalation_reason ? el("span", { class: "muted" }, " — " + c.escalation_reason) : null));
  }
  if (!r.cases.length) list.append(el("li", { class: "muted" }, "Nothing escalated: every customer has an answer."));
}

async function openInbox(id) {
  const same = inbox.caseId === id; // redrawn after a `case` event: keep the reply being typed
  const early = [];
  inbox.caseId = id;
  inbox.early = early;
  const c = await api("GET", "/cases/" + id, { token: me.token });
  // Superseded by a later open (another case, or this one again after a newer event): that call
  // read the transcript after these messages were stored, and draws it.
  if (inbox.early !== early) return;
  const draft = same && inbox.input ? inbox.input.value : "";
  inbox.log = transcript(c);
  for (const m of early) addInboxMessage(m);
  inbox.early = null;
  const box = clear($("#inbox-detail"));
  const input = el("textarea", { name: "text", maxlength: 4000, required: true, "aria-label": "Answer the customer" });
  input.value = draft;
  inbox.input = input;
  const reply = el("form", { class: "write" }, input, el("p", { class: "row" },
    el("button", { type: "submit", class: "primary" }, "Send to customer"),
    el("button", { type: "button", onclick: () => closeCase(id) }, "Close case")));
  reply.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const r = await socket.emitWithAck("message", { case_id: id, text, client_id: uid() });
    if (!r.ok) return error(new Error(r.error.message));
    input.value = "";
    addInboxMessage(r.message);
  });
  box.append(el("h2", {}, "Case #" + id + " ", statusPill(c)),
    el("p", { class: "muted" }, "Escalated: " + (c.escalation_reason || "no reason given")), inbox.log,
    c.status === "escalated" ? reply : el("p", { class: "muted" }, "This case is " + c.status + "."));
}

async function closeCase(id) {
  const r = await socket.emitWithAck("close", { case_id: id });
  if (!r.ok) return error(new Error(r.error.message));
  ok("Case #" + id + " closed.");
  await loadInbox();
  await openInbox(id);
}

// --- topics -----------------------------------------------------------------------------------
async function loadTopics() {
  const r = await loadTopicNames();
  const body = clear($("#topics"));
  for (const t of r.topics) {
    const row = el("tr", { class: "clickable", tabindex: 0, "aria-label": "Edit topic " + t.name, dataset: { slug: t.slug } },
      el("td", {}, el("strong", {}, t.name), el("br"), el("span", { class: "muted" }, t.slug + (t.description ? " · " + t.description : ""))),
      el("td", {}, money(t.reward_cents, settings.currency)),
      el("td", {}, el("ul", { class: "hints" }, t.examples.slice(0, 5).map((x) => el("li", {}, x)))),
      el("td", {}, t.active ? "yes" : "no"));
    const edit = () => {
      const f = $("#topic-form");
      f.slug.value = t.slug; f.name.value = t.name; f.reward.value = (t.reward_cents / 100).toFixed(2);
      f.description.value = t.description; f.examples.value = t.examples.join("\n"); f.active.checked = t.active;
      if (canWrite()) f.name.focus();
    };
    row.addEventListener("click", edit);
    row.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); edit(); } });
    body.append(row);
  }
  if (!r.topics.length) body.append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "No topics yet: add the first one.")));
}

$("#topic-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const body = { name: f.name.value.trim(), reward_cents: Math.round(Number(f.reward.value) * 100),
    description: f.description.value.trim(), active: f.active.checked,
    examples: f.examples.value.split("\n").map((s) => s.trim()).filter(Boolean) };
  try {
    await api("PUT", "/topics/" + encodeURIComponent(f.slug.value.trim()), { token: me.token, body });
    ok("Topic " + body.name + " saved.");
    f.reset();
    await loadTopics();
  } catch (e) { error(e); }
});

// --- reusable answers -------------------------------------------------------------------------
let answersCursor = null;

async function loadAnswers(more) {
  const status = $("#answers-status").value;
  const q = "?limit=50" + (status ? "&status=" + status : "") + (more && answersCursor ? "&before_id=" + answersCursor : "");
  const r = await api("GET", "/answers" + q, { token: me.token });
  $("#reuse-mode").value = r.mode;
  $("#reuse-mode").disabled = !canWrite();
  const list = more ? $("#answers") : clear($("#answers"));
  for (const a of r.answers) list.append(answerItem(a));
  if (!more && !r.answers.length) list.append(el("li", { class: "muted" }, "No answers yet: they appear when customers confirm a case resolved."));
  answersCursor = r.next_before_id;
  $("#more-answers").hidden = !answersCursor;
}

function answerItem(a) {
  const text = el("textarea", { name: "answer", maxlength: 4000, rows: 3, "aria-label": "Answer #" + a.id, disabled: !canWrite() });
  text.value = a.answer;
  const decide = (body, done) => async () => {
    try {
      const r = await api("PATCH", "/answers/" + a.id, { token: me.token, body });
      item.replaceWith(answerItem(r));
      ok("Answer #" + a.id + " " + done + ".");
    } catch (e) { error(e); }
  };
  const item = el("li", { class: "answer", dataset: { answerId: a.id } },
    el("p", {}, el("strong", {}, "#" + a.id), " · " + (a.topic || "no topic") + " · from case #" + a.case_id + " · ",
      el("span", { class: "pill " + a.status }, a.status === "pending" ? "not reviewed" : a.status), a.edited ? " · edited" : ""),
    text,
    el("p", { class: "row write" },
      el("button", { type: "button", class: "primary", onclick: decide({ status: "approved" }, "approved") }, "Approve"),
      el("button", { type: "button", onclick: () => decide({ answer: text.value, status: "approved" }, "edited and approved")() }, "Save edit and approve"),
      el("button", { type: "button", class: "danger", onclick: decide({ status: "rejected" }, "rejected") }, "Reject")));
  return item;
}

$("#reuse-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    settings = await api("PATCH", "/brand", { token: me.token, body: { answer_reuse: $("#reuse-mode").value } });
    ok("Answer reuse: " + settings.answer_reuse + ".");
  } catch (e) { error(e); }
});
$("#answers-status").addEventListener("change", () => loadAnswers(false).catch(error));
$("#more-answers").addEventListener("click", () => loadAnswers(true).catch(error));

// --- experts ----------------------------------------------------------------------------------
async function loadPrograms() {
  const [r, t] = await Promise.all([api("GET", "/programs", { token: me.token }), api("GET", "/topics", { token: me.token })]);
  const body = clear($("#programs"));
  for (const p of r.programs) {
    const wanted = new Set([...p.requested_topics, ...p.topics]);
    const boxes = t.topics.filter((x) => x.active || wanted.has(x.slug)).map((x) =>
      el("label", { class: "inline" }, el("input", { type: "checkbox", value: x.slug, checked: wanted.has(x.slug) }), x.name));
    const act = (path, payload, done) => async () => {
      try {
        await api("POST", "/experts/" + p.expert_id + "/" + path, { token: me.token, body: payload && payload() });
        ok(p.display_name + ": " + done);
        await loadPrograms();
      } catch (e) { error(e); }
    };
    const topics = () => ({ topics: boxes.map((b) => b.firstChild).filter((i) => i.checked).map((i) => i.value) });
    body.append(el("tr", { dataset: { expertId: p.expert_id } },
      el("td", {}, el("strong", {}, p.display_name), el("br"), el("span", { class: "muted" }, (p.languages || []).join(", "))),
      el("td", {}, el("span", { class: "pill " + p.status }, p.status)),
      el("td", {}, el("span", { class: "muted" }, "approved: " + (p.topics.map(topicName).join(", ") || "–")), el("br"), el("span", { class: "muted" }, "asked for: " + p.requested_topics.map(topicName).join(", "))),
      el("td", {}, plural(p.stats.cases, "case") + " · " + pct(p.stats.resolution_rate) + " resolved · CSAT " + num(p.stats.csat_avg)),
      el("td", { class: "write" }, el("div", {}, boxes),
        el("p", { class: "row" },
          p.status === "approved"
            ? el("button", { type: "button", onclick: act("approve", topics, "topics updated") }, "Update topics")
            : el("button", { type: "button", class: "primary", onclick: act("approve", topics, "approved") }, p.status === "pending" ? "Approve" : "Reinstate"),
          p.status === "approved" ? el("button", { type: "button", class: "danger", onclick: act("suspend", null, "suspended") }, "Suspend") : null,
          p.status === "pending" ? el("button", { type: "button", class: "danger", onclick: act("reject", null, "rejected") }, "Reject") : null))));
  }
  if (!r.programs.length) body.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No applications yet. Experts apply at /expert/ with your brand slug.")));
}

// --- settings ---------------------------------------------------------------------------------
const SETTING_FIELDS = ["offer_timeout_s", "max_offers", "offer_fanout", "escalate_after_s", "confirm_window_s", "review_window_s"];
const BONUS_FIELDS = ["five_star_cents", "fast_response_cents", "fast_response_s"];

const CENTS = new Set(["five_star_cents", "fast_response_cents"]);
// Durations are stored in seconds; the hint under each says it in minutes, hours or days.
function durationHints() {
  for (const out of $$("#settings-form output.hint")) {
    const v = Number($("#" + out.htmlFor.value).value);
    out.textContent = Number.isFinite(v) && v > 0 ? "= " + dur(v) : "";
  }
}
$("#settings-form").addEventListener("input", durationHints);

async function loadSettings() {
  settings = await api("GET", "/brand", { token: me.token });
  const f = $("#settings-form");
  for (const k of SETTING_FIELDS) { f[k].value = settings[k]; f[k].disabled = !canWrite(); }
  const bonus = settings.bonus_rules || {};
  for (const k of BONUS_FIELDS) {
    const v = bonus[k] ?? (k === "fast_response_s" ? 60 : 0);
    f[k].value = CENTS.has(k) ? (v / 100).toFixed(2) : v;
    f[k].disabled = !canWrite();
  }
  const symbol = money(0, settings.currency).replace(/[\d.,\s]/g, "") || settings.currency.toUpperCase();
  for (const n of $$("#settings-form .cur")) n.textContent = symbol;
  durationHints();
  f.retention_days.value = settings.retention_days ?? "";
  f.retention_days.disabled = !canWrite();
  $("#snippet").textContent = `<script src="${location.origin}/widget.js" data-brand="${settings.slug}" async></script>`;
}

$("#settings-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const body = {};
  for (const k of SETTING_FIELDS) body[k] = Number(f[k].value);
  body.bonus_rules = Object.fromEntries(BONUS_FIELDS.map((k) => [k, CENTS.has(k) ? Math.round(Number(f[k].value) * 100) : Number(f[k].value)]));
  body.retention_days = f.retention_days.value.trim() ? Number(f.retention_days.value) : null;
  try {
    settings = await api("PATCH", "/brand", { token: me.token, body });
    ok("Settings saved.");
  } catch (e) { error(e); }
});

$("#copy-snippet").addEventListener("click", async () => {
  try { await navigator.clipboard.writeText($("#snippet").textContent); ok("Snippet copied."); } catch (e) {
    const range = document.createRange(); range.selectNodeContents($("#snippet"));
    getSelection().removeAllRanges(); getSelection().addRange(range);
    say(msg, "Press Ctrl+C (⌘C) to copy the selected snippet.", "info");
  }
});

$("#rotate-key").addEventListener("click", async (ev) => {
  const b = ev.currentTarget;
  if (b.dataset.armed !== "1") { b.dataset.armed = "1"; b.textContent = "Click again to rotate: the old key stops working"; return; }
  b.dataset.armed = ""; b.textContent = "Rotate API key";
  try {
    const r = await api("POST", "/brand/api-key", { token: me.token });
    const out = $("#new-key");
    out.textContent = r.api_key;
    out.hidden = false;
    ok("New API key issued. Copy it now: it is not shown again.");
  } catch (e) { error(e); }
});

$("#flag-status").addEventListener("change", () => loadFlagged({ me, error, ok, canWrite }).catch(error));

start().catch(error);
