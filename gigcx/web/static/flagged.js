// The brand console's "Flagged" view: cases whose reward is held by trust signals (docs/trust.md),
// each with its signals and transcript; release or reject in one action, with a note that goes
// into the audit trail. Also the QA sample awaiting a verdict.
import { $, api, clear, el, messageItem, money, num, when } from "./common.js";

let ctx = null; // {me, error, ok, canWrite}

export async function loadFlagged(context) {
  ctx = context;
  const status = $("#flag-status").value || "held";
  const r = await api("GET", "/trust/flagged?status=" + encodeURIComponent(status), { token: ctx.me.token });
  const list = clear($("#flagged"));
  for (const f of r.cases) {
    list.append(el("li", {},
      el("button", { type: "button", onclick: () => openFlag(f.case_id).catch(ctx.error) },
        "#" + f.case_id + " · " + (f.topic || "unclassified") + " · " + (f.expert.display_name || "expert " + f.expert.id)),
      " ", el("span", { class: "pill " + (f.hold_state || "sampled") }, f.hold_state || (f.sampled ? "QA sample" : "watch")),
      " ", money(f.reward_cents, f.currency || "usd"),
      el("div", { class: "muted" }, f.reasons.join("; ") || "sampled for QA")));
  }
  if (!r.cases.length) list.append(el("li", { class: "muted" }, status === "held" ? "No reward is held." : "Nothing here."));
}

async function openFlag(id) {
  const f = await api("GET", "/trust/flagged/" + id, { token: ctx.me.token });
  const box = clear($("#flag-detail"));
  const note = el("textarea", { name: "note", maxlength: 4000, "aria-label": "Why (kept in the audit trail)" });
  const act = (action) => async () => {
    try {
      await api("POST", "/trust/flagged/" + id + "/decision", { token: ctx.me.token, body: { action, note: note.value.trim() } });
      ctx.ok(action === "release" ? "Reward released." : "Reward rejected: it goes back to your budget.");
      await loadFlagged(ctx);
      await openFlag(id);
    } catch (e) { ctx.error(e); }
  };
  const qa = (verdict) => async () => {
    try {
      await api("POST", "/trust/qa/" + id, { token: ctx.me.token, body: { verdict, note: note.value.trim() } });
      ctx.ok("QA verdict saved.");
      await openFlag(id);
    } catch (e) { ctx.error(e); }
  };
  const controls = el("div", { class: "write" }, el("label", {}, "Note ", note), el("p", { class: "row" },
    f.held ? el("button", { type: "button", class: "primary", onclick: act("release") }, "Release reward") : null,
    f.held ? el("button", { type: "button", class: "danger", onclick: act("reject") }, "Reject reward") : null,
    f.sampled && !f.qa_verdict ? el("button", { type: "button", onclick: qa("pass") }, "QA pass") : null,
    f.sampled && !f.qa_verdict ? el("button", { type: "button", onclick: qa("fail") }, "QA fail") : null));
  box.append(
    el("h2", {}, "Case #" + id + " ", el("span", { class: "pill " + (f.hold_state || "") }, f.hold_state || "not held")),
    el("p", {}, (f.expert.display_name || "expert " + f.expert.id) + " · " + (f.topic || "unclassified") + " · " +
      money(f.reward_cents, f.currency || "usd") + " (" + f.reward_status + ") · resolved " + when(f.resolved_at) +
      (f.resolved_by ? " by " + f.resolved_by : "") + (f.customer.user_id ? " · customer " + f.customer.user_id : "")),
    el("h3", {}, "Signals (score " + num(f.score) + ")"),
    el("ul", {}, f.signals.length ? f.signals.map((s) => el("li", {}, s.reason + " ", el("span", { class: "muted" }, "+" + num(s.weight))))
      : [el("li", { class: "muted" }, "none: sampled for QA")]),
    el("h3", {}, "Transcript"), el("p", {}, f.question), el("ul", { class: "log" }, f.messages.map(messageItem)),
    el("h3", {}, "Decisions"),
    el("ul", {}, f.decisions.map((d) => el("li", {}, when(d.at) + " · " + d.action + " by " + d.actor + (d.note ? " — " + d.note : "")))),
    (f.held || (f.sampled && !f.qa_verdict)) && ctx.canWrite() ? controls : null);
}
