// The brand console's cases: the filtered list, one case with its transcript, routing and QA
// review, and the customer's personal data (export, erasure).
import { $, api, clear, download, dur, el, form, messageItem, num, pct, qs, when } from "./common.js";

let ctx = null; // {me, settings, error, ok, topicName, statusPill, loadTopicNames, plural}, from brand.js

/** Wire the filters and the "more" button (once, at load). */
export function bindCases(context) {
  ctx = context;
  $("#case-filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadCases(false).catch(ctx.error); });
  $("#more-cases").addEventListener("click", () => loadCases(true).catch(ctx.error));
}

let nextBefore = null;

export async function loadCases(more) {
  const f = form($("#case-filters"));
  await fillTopicFilter();
  const r = await api("GET", "/cases" + qs({ status: f.status, topic: f.topic, limit: 50, before_id: more ? nextBefore : "" }), { token: ctx.me.token });
  const body = $("#cases");
  if (!more) clear(body);
  for (const c of r.cases) {
    const row = el("tr", { class: "clickable", tabindex: 0, dataset: { caseId: c.id } },
      el("td", {}, String(c.id)), el("td", {}, ctx.statusPill(c)),
      el("td", { class: "q" }, el("span", { class: "clip" }, c.question || ""), el("span", { class: "muted" }, when(c.created_at))),
      el("td", {}, ctx.topicName(c.topic)), el("td", {}, c.expert ? c.expert.display_name : "–"),
      el("td", {}, c.rating ? String(c.rating.csat) : "–"),
      el("td", {}, c.review ? el("span", { class: "pill " + c.review.verdict }, c.review.verdict) : "–"));
    const open = () => openCase(c.id).catch(ctx.error);
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
  const t = await ctx.loadTopicNames();
  for (const x of t.topics) sel.append(el("option", { value: x.slug }, x.name));
}

export function transcript(c) {
  return el("ul", { class: "log" }, c.messages.map((m) => messageItem(m, "staff")));
}

// Why the ranker offered the case to this expert, in words (the API keeps the raw numbers).
const REASONS = [
  ["why", (v) => (v === "top score" ? "Best score" : v.charAt(0).toUpperCase() + v.slice(1))],
  ["expertise_scaled", (v) => "expertise " + pct(v)],
  ["resolved", (v) => ctx.plural(v, "case") + " resolved here"],
  ["spare_capacity", (v) => "spare capacity " + pct(v)],
  ["speed", (v) => "speed " + pct(v)],
  ["new_bonus", (v) => (v > 0 ? "new-expert boost +" + num(v, 2) : null)],
];
function reasons(r) {
  if (Array.isArray(r)) return r.join("; ");
  if (!r || typeof r !== "object") return r === null || r === undefined ? "" : String(r);
  return REASONS.filter(([k]) => r[k] !== undefined && r[k] !== null).map(([k, f]) => f(r[k])).filter(Boolean).join(" · ");
}

export async function openCase(id) {
  const c = await api("GET", "/cases/" + id, { token: ctx.me.token });
  const box = clear($("#case-detail"));
  const windowDays = ctx.settings.review_window_s / 86400;
  box.append(...[
    el("h2", {}, "Case #" + c.id + " ", ctx.statusPill(c)),
    el("p", { class: "muted" }, "Topic " + ctx.topicName(c.topic) + " · expert " + (c.expert ? c.expert.display_name : "–") +
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
      const r = await api("POST", "/cases/" + id + "/review", { token: ctx.me.token, body: { verdict: f.verdict, note: f.note || undefined } });
      const verdict = r.verdict === "approve" ? "approved" : "rejected";
      const reward = r.clawback ? "the expert's reward was taken back (clawback)."
        : r.reward_status ? "the expert's reward is " + r.reward_status.replace("_", " ") + "." : "";
      ctx.ok("Case #" + id + " " + verdict + (reward ? "; " + reward : "."));
      await openCase(id);
      await loadCases(false);
    } catch (e) { ctx.error(e); }
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
      const r = await api("DELETE", "/customers/" + c.customer_id, { token: ctx.me.token });
      const blob = new Blob([JSON.stringify(r.export, null, 2)], { type: "application/json" });
      const a = el("a", { href: URL.createObjectURL(blob), download: "customer-" + c.customer_id + ".json" }, "Download the data as it was");
      clear(report).append(el("p", {}, "Erased: " + r.removed.cases_redacted + " conversation(s), " + r.removed.messages_redacted +
          " message(s), " + r.removed.open_cases_closed + " open case(s) closed, " + r.removed.reusable_answers_deleted + " reusable answer(s) deleted. "), a,
        el("h4", {}, "Kept, and why"), el("ul", {}, r.kept.map((k) => el("li", {}, el("strong", {}, k.what), ": " + k.why))));
      ctx.ok("The customer's data was erased.");
      await openCase(c.id);  // redrawn without the text; the report stays under the new card
      $("#case-detail .customer-data").append(report);
    } catch (e) { ctx.error(e); }
  });
  return el("div", { class: "card customer-data" },
    el("h3", {}, "Customer #" + c.customer_id + "'s data"),
    c.redacted_at ? el("p", { class: "muted" }, "This conversation was redacted " + when(c.redacted_at) + ".") : null,
    el("p", { class: "row" },
      el("button", { type: "button", onclick: () => download("/customers/" + c.customer_id + "/export", ctx.me.token, "customer-" + c.customer_id + ".json").catch(ctx.error) }, "Export (JSON)"),
      erase),
    report);
}

