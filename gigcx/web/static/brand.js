// The brand console: dashboard, live feed, cases and QA review, escalation inbox, topics,
// expert programs, settings. Analysts get the same pages without the write controls (the API
// refuses their writes anyway).
import { $, $$, api, ApiError, clear, download, dur, el, form, messageItem, money, num, pct, say, senderLabel, tabs, tokenStore, uid, when } from "./common.js";
import { loadFlagged } from "./flagged.js";
import { loadIntegrations } from "./notify.js";

const store = tokenStore("gigcx.staff");
let me = null;       // {token, brand, role, name}
let settings = null; // GET /brand
let socket = null;
const charts = {};
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
  $("#auth").hidden = true; $("#app").hidden = false; $("#logout").hidden = false;
  $("#brand-title").textContent = who.brand_name + " · GigCX";
  $("#who").textContent = (who.staff ? who.staff.display_name : "API key") + " (" + who.role + ")";
  settings = await api("GET", "/brand", { token: me.token });
  await loadTopicNames().catch(() => null);
  connect();
  refreshInboxCount();
  show(location.hash.slice(1) || "dashboard");
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

// --- dashboard --------------------------------------------------------------------------------
function range() {
  const f = form($("#range"));
  const until = new Date(Date.now() + 60000);
  const since = new Date(until - Number(f.days) * 86400000);
  // A period of 1 day by the week (or 90 by the hour) makes no chart: pick the sensible bucket.
  const bucket = Number(f.days) <= 1 ? "hour" : f.bucket === "hour" && Number(f.days) > 7 ? "day" : f.bucket;
  return { since: since.toISOString(), until: until.toISOString(), bucket };
}
const qs = (o) => "?" + new URLSearchParams(Object.entries(o).filter(([, v]) => v !== "" && v !== null && v !== undefined)).toString();

$("#range").addEventListener("submit", (ev) => { ev.preventDefault(); loadDashboard().catch(error); });
$("#export-cases").addEventListener("click", () => { const r = range(); download("/cases/export.csv" + qs({ since: r.since, until: r.until }), me.token, "cases.csv").catch(error); });
$("#export-metrics").addEventListener("click", () => download("/metrics/export.csv" + qs(range()), me.token, "metrics.csv").catch(error));

function kpi(key, label, value) {
  return el("div", { class: "kpi", dataset: { kpi: key } }, el("span", { class: "v" }, value), el("span", { class: "k" }, label));
}

function lineChart(id, labels, datasets, type = "line", scales = {}) {
  if (!window.Chart) return;
  const data = { labels, datasets: datasets.map((d) => ({ spanGaps: true, tension: 0.25, pointRadius: 3, ...d })) };
  if (charts[id]) charts[id].destroy();
  charts[id] = new window.Chart($("#" + id), {
    type, data,
    options: { animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { position: "bottom" } },
      scales: { y: { beginAtZero: true, ...(scales.y || {}) }, ...(scales.y1 ? { y1: scales.y1 } : {}) } },
  });
}

// Every bucket of the period, in the keys the API uses (UTC): days without cases get zero
// cases and no rate, instead of vanishing from the chart.
function isoWeek(d) {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const jan1 = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
  return t.getUTCFullYear() + "-W" + String(Math.ceil(((t - jan1) / 86400000 + 1) / 7)).padStart(2, "0");
}
function bucketKey(d, bucket) {
  const iso = d.toISOString();
  if (bucket === "hour") return iso.slice(0, 13) + ":00:00Z";
  if (bucket === "week") return isoWeek(d);
  return iso.slice(0, 10);
}
function bucketLabel(key, bucket) {
  if (bucket === "hour") return new Date(key).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
  if (bucket === "week") return key.replace(/^\d+-W/, "week ");
  return new Date(key + "T00:00:00Z").toLocaleDateString([], { month: "short", day: "numeric", timeZone: "UTC" });
}
function fillSeries(series, r) {
  const step = { hour: 3600000, day: 86400000, week: 7 * 86400000 }[r.bucket];
  const byKey = new Map(series.map((b) => [b.bucket, b]));
  const keys = [];
  for (let t = Date.parse(r.since); t <= Date.parse(r.until); t += step) {
    const k = bucketKey(new Date(t), r.bucket);
    if (keys[keys.length - 1] !== k) keys.push(k);
  }
  const last = bucketKey(new Date(r.until), r.bucket);
  if (keys[keys.length - 1] !== last) keys.push(last);
  for (const b of series) if (!keys.includes(b.bucket)) keys.push(b.bucket);
  keys.sort();
  return keys.map((k) => byKey.get(k) || { bucket: k, cases: 0, resolved: 0, escalated: 0 });
}
const percent = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 10);

async function loadDashboard() {
  const m = await api("GET", "/metrics" + qs(range()), { token: me.token });
  clear($("#kpis")).append(
    kpi("cases", "Cases", String(m.cases)), kpi("resolved", "Resolved", String(m.resolved)),
    kpi("resolution_rate", "Resolution rate", pct(m.resolution_rate)), kpi("escalation_rate", "Escalation rate", pct(m.escalation_rate)),
    kpi("deflection_rate", "Deflection rate", pct(m.deflection_rate)),
    kpi("first_response_p50_s", "First response p50", dur(m.first_response_p50_s)), kpi("first_response_p90_s", "First response p90", dur(m.first_response_p90_s)),
    kpi("resolution_p50_s", "Resolution time p50", dur(m.resolution_p50_s)),
    kpi("csat_avg", "CSAT (1–5)", num(m.csat_avg)), kpi("nps", "NPS", num(m.nps, 0)));
  const r = range();
  const s = fillSeries(m.series || [], r);
  const labels = s.map((b) => bucketLabel(b.bucket, r.bucket));
  lineChart("chart-cases", labels, [
    { label: "cases", data: s.map((b) => b.cases), backgroundColor: "#2453d6" },
    { label: "resolved", data: s.map((b) => b.resolved), backgroundColor: "#137a3f" },
    { label: "escalated", data: s.map((b) => b.escalated), backgroundColor: "#b3261e" }], "bar",
    { y: { ticks: { precision: 0 } } });
  lineChart("chart-times", labels, [
    { label: "first response p50", data: s.map((b) => b.first_response_p50_s), borderColor: "#2453d6" },
    { label: "first response p90", data: s.map((b) => b.first_response_p90_s), borderColor: "#7d9cf0" },
    { label: "resolution p50", data: s.map((b) => b.resolution_p50_s), borderColor: "#137a3f" }]);
  lineChart("chart-rates", labels, [
    { label: "resolution", data: s.map((b) => percent(b.resolution_rate)), borderColor: "#137a3f" },
    { label: "escalation", data: s.map((b) => percent(b.escalation_rate)), borderColor: "#b3261e" },
    { label: "deflection", data: s.map((b) => percent(b.deflection_rate)), borderColor: "#9a5b00" }], "line",
    { y: { max: 100, ticks: { callback: (v) => v + "%" } } });
  lineChart("chart-sat", labels, [
    { label: "CSAT (1–5, left)", data: s.map((b) => b.csat_avg ?? null), borderColor: "#2453d6", yAxisID: "y" },
    { label: "NPS (−100 to 100, right)", data: s.map((b) => b.nps ?? null), borderColor: "#9a5b00", yAxisID: "y1" }], "line",
    { y: { beginAtZero: false, min: 1, max: 5, ticks: { stepSize: 1 }, title: { display: true, text: "CSAT" } },
      y1: { position: "right", min: -100, max: 100, ticks: { stepSize: 50 }, grid: { drawOnChartArea: false }, title: { display: true, text: "NPS" } } });
  const topics = clear($("#by-topic"));
  for (const [t, v] of Object.entries(m.by_topic)) {
    topics.append(el("tr", {}, el("td", {}, topicName(t)), el("td", {}, String(v.cases)), el("td", {}, pct(v.resolution_rate)),
      el("td", {}, pct(v.escalation_rate)), el("td", {}, dur(v.first_response_p50_s)), el("td", {}, num(v.csat_avg))));
  }
  const experts = clear($("#by-expert"));
  for (const v of Object.values(m.by_expert)) {
    experts.append(el("tr", {}, el("td", {}, v.display_name || "?"), el("td", {}, String(v.cases)), el("td", {}, pct(v.resolution_rate)),
      el("td", {}, dur(v.first_response_p50_s)), el("td", {}, num(v.csat_avg)), el("td", {}, num(v.nps, 0))));
  }
}

// --- cases and review -------------------------------------------------------------------------
let nextBefore = null;
$("#case-filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadCases(false).catch(error); });
$("#more-cases").addEventListener("click", () => loadCases(true).catch(error));

async function loadCases(more) {
  const f = form($("#case-filters"));
  await fillTopicFilter();
  const r = await api("GET", "/cases" + qs({ status: f.status, topic: f.topic, limit: 50, before_id: more ? nextBefore : "" }), { token: me.token });
  const body = $("#cases");
  if (!more) clear(body);
  for (const c of r.cases) {
    const row = el("tr", { class: "clickable", tabindex: 0, dataset: { caseId: c.id } },
      el("td", {}, String(c.id)), el("td", {}, statusPill(c)),
      el("td", { class: "q" }, el("span", { class: "clip" }, c.question || ""), el("span", { class: "muted" }, when(c.created_at))),
      el("td", {}, topicName(c.topic)), el("td", {}, c.expert ? c.expert.display_name : "–"),
      el("td", {}, c.rating ? String(c.rating.csat) : "–"),
      el("td", {}, c.review ? el("span", { class: "pill " + c.review.verdict }, c.review.verdict) : "–"));
    const open = () => openCase(c.id).catch(error);
    row.addEventListener("click", open);
    row.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(); });
    body.append(row);
  }
  if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No cases match.")));
  nextBefore = r.next_before_id;
  $("#more-cases").hidden = !nextBefore;
}

async function fillTopicFilter() {
  const sel = $("#filter-topic");
  if (sel.options.length > 1) return;
  const t = await loadTopicNames();
  for (const x of t.topics) sel.append(el("option", { value: x.slug }, x.name));
}

function transcript(c) {
  return el("ul", { class: "log" }, c.messages.map((m) => messageItem(m, "staff")));
}

// Why the ranker offered the case to this expert, in words (the API keeps the raw numbers).
const REASONS = [
  ["why", (v) => (v === "top score" ? "Best score" : v.charAt(0).toUpperCase() + v.slice(1))],
  ["expertise_scaled", (v) => "expertise " + pct(v)],
  ["resolved", (v) => plural(v, "case") + " resolved here"],
  ["spare_capacity", (v) => "spare capacity " + pct(v)],
  ["speed", (v) => "speed " + pct(v)],
  ["new_bonus", (v) => (v > 0 ? "new-expert boost +" + num(v, 2) : null)],
];
function reasons(r) {
  if (Array.isArray(r)) return r.join("; ");
  if (!r || typeof r !== "object") return r === null || r === undefined ? "" : String(r);
  return REASONS.filter(([k]) => r[k] !== undefined && r[k] !== null).map(([k, f]) => f(r[k])).filter(Boolean).join(" · ");
}

async function openCase(id) {
  const c = await api("GET", "/cases/" + id, { token: me.token });
  const box = clear($("#case-detail"));
  const windowDays = settings.review_window_s / 86400;
  box.append(...[
    el("h2", {}, "Case #" + c.id + " ", statusPill(c)),
    el("p", { class: "muted" }, "Topic " + topicName(c.topic) + " · expert " + (c.expert ? c.expert.display_name : "–") +
      " · asked " + when(c.created_at) + " · first response " + dur(c.first_response_s) + " · resolution " + dur(c.resolution_s)),
    c.rating ? el("p", {}, "Rating: CSAT " + c.rating.csat + (c.rating.nps !== null ? " · NPS " + c.rating.nps : "") + (c.rating.comment ? " · “" + c.rating.comment + "”" : "")) : null,
    c.escalation_reason ? el("p", {}, "Escalated: " + c.escalation_reason) : null,
    el("h3", {}, "Transcript"), transcript(c)].filter(Boolean));
  if (c.offers && c.offers.length) {
    box.append(el("h3", {}, "Routing"), el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Expert"), el("th", {}, "Round"), el("th", {}, "Offer"), el("th", {}, "Score"), el("th", {}, "Why"))),
      el("tbody", {}, c.offers.map((o) => el("tr", {}, el("td", {}, o.display_name || "Expert #" + o.expert_id), el("td", {}, String(o.round ?? "")),
        el("td", {}, String(o.status ?? "")), el("td", {}, o.score === undefined || o.score === null ? "–" : num(o.score, 3)),
        el("td", {}, reasons(o.reasons))))))));
  }
  const review = el("form", { class: "card review" },
    el("h3", {}, "QA review"),
    c.review ? el("p", {}, "Reviewed: ", el("span", { class: "pill " + c.review.verdict }, c.review.verdict), c.review.note ? " — " + c.review.note : "") : null,
    el("p", { class: "muted clawback" }, "Rule: rejecting a resolved case within the review window (" + num(windowDays, 1) +
      " days after resolution) takes the expert's reward back (clawback). After the window the reward is released and stays paid."),
    el("div", { class: "write" },
      el("label", { class: "inline" }, el("input", { type: "radio", name: "verdict", value: "approve", checked: true }), "Approve"),
      el("label", { class: "inline" }, el("input", { type: "radio", name: "verdict", value: "reject" }), "Reject"),
      el("label", { for: "review-note" }, "Note"), el("textarea", { id: "review-note", name: "note", maxlength: 4000 }),
      el("p", { class: "row" }, el("button", { type: "submit", class: "primary", disabled: c.status !== "resolved" }, "Save review"))),
    c.status !== "resolved" ? el("p", { class: "muted" }, "Only resolved cases are reviewed.") : null);
  review.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form(review);
    try {
      const r = await api("POST", "/cases/" + id + "/review", { token: me.token, body: { verdict: f.verdict, note: f.note || undefined } });
      const verdict = r.verdict === "approve" ? "approved" : "rejected";
      const reward = r.clawback ? "the expert's reward was taken back (clawback)."
        : r.reward_status ? "the expert's reward is " + r.reward_status.replace("_", " ") + "." : "";
      ok("Case #" + id + " " + verdict + (reward ? "; " + reward : "."));
      await openCase(id);
      await loadCases(false);
    } catch (e) { error(e); }
  });
  box.append(review, customerCard(c));
}

// The customer's personal data: export it, or erase it on their request.
function customerCard(c) {
  const report = el("div", {});
  const erase = el("button", { type: "button", class: "danger write" }, "Erase this customer's data");
  erase.addEventListener("click", async () => {
    if (erase.dataset.armed !== "1") { erase.dataset.armed = "1"; erase.textContent = "Click again to erase: this cannot be undone"; return; }
    erase.dataset.armed = ""; erase.textContent = "Erase this customer's data";
    try {
      const r = await api("DELETE", "/customers/" + c.customer_id, { token: me.token });
      const blob = new Blob([JSON.stringify(r.export, null, 2)], { type: "application/json" });
      const a = el("a", { href: URL.createObjectURL(blob), download: "customer-" + c.customer_id + ".json" }, "Download the data as it was");
      clear(report).append(el("p", {}, "Erased: " + r.removed.cases_redacted + " conversation(s), " + r.removed.messages_redacted +
          " message(s), " + r.removed.open_cases_closed + " open case(s) closed, " + r.removed.reusable_answers_deleted + " reusable answer(s) deleted. "), a,
        el("h4", {}, "Kept, and why"), el("ul", {}, r.kept.map((k) => el("li", {}, el("strong", {}, k.what), ": " + k.why))));
      ok("The customer's data was erased.");
      await openCase(c.id);  // redrawn without the text; the report stays under the new card
      $("#case-detail .customer-data").append(report);
    } catch (e) { error(e); }
  });
  return el("div", { class: "card customer-data" },
    el("h3", {}, "Customer #" + c.customer_id + "'s data"),
    c.redacted_at ? el("p", { class: "muted" }, "This conversation was redacted " + when(c.redacted_at) + ".") : null,
    el("p", { class: "row" },
      el("button", { type: "button", onclick: () => download("/customers/" + c.customer_id + "/export", me.token, "customer-" + c.customer_id + ".json").catch(error) }, "Export (JSON)"),
      erase),
    report);
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
