// The expert console's own record: earnings, payouts and their statements, the payout account,
// quality notes, and the profile with its track record.
import { $, api, clear, dur, el, money, num, pct, say } from "./common.js";

let ctx = null; // {me, error, msg}, from expert.js

/** Wire the payout-account button (once, at load). */
export function bindAccount(context) {
  ctx = context;
  $("#payout-onboard").addEventListener("click", async () => {
    try {
      const here = location.origin + location.pathname + "#earnings";
      const r = await api("POST", "/experts/me/payout-account", { token: ctx.me.token, body: { refresh_url: here, return_url: here } });
      if (/^https:\/\//.test(r.url)) location.assign(r.url); else say(ctx.msg, "Onboarding link: " + r.url, "info");
    } catch (e) { ctx.error(e); }
  });
}

function kpi(label, value) { return el("div", { class: "kpi" }, el("span", { class: "v" }, value), el("span", { class: "k" }, label)); }

export async function loadEarnings() {
  try {
    const [e, acct] = await Promise.all([
      api("GET", "/experts/me/earnings", { token: ctx.me.token }),
      api("GET", "/experts/me/payout-account", { token: ctx.me.token }),
    ]);
    const cur = e.currency || "usd";
    clear($("#earn-kpis")).append(kpi("Pending (in review)", money(e.pending_cents, cur)),
      kpi("Available", money(e.available_cents, cur)), kpi("In transit", money(e.in_transit_cents, cur)),
      kpi("Paid", money(e.paid_cents, cur)));
    const body = clear($("#earn-entries"));
    for (const x of e.entries) {
      body.append(el("tr", {}, el("td", {}, x.case_id ? "#" + x.case_id : "–"), el("td", {}, money(x.amount_cents, x.currency)),
        el("td", {}, el("span", { class: "pill " + x.status }, x.status)),
        el("td", {}, (x.lines || []).map((l) => (l.kind || l.memo || "") + " " + money(l.amount_cents, x.currency)).join(", "))));
    }
    if (!e.entries.length) body.append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "No earnings yet.")));
    const pays = clear($("#earn-payouts"));
    for (const p of e.payouts || []) {
      const link = el("a", { href: "#", class: "statement-link", "data-payout": String(p.id) }, "Statement (CSV)");
      link.addEventListener("click", (ev) => { ev.preventDefault(); downloadStatement(p); });
      pays.append(el("tr", {}, el("td", {}, "#" + p.id), el("td", {}, money(p.amount_cents, p.currency)),
        el("td", {}, el("span", { class: "pill " + p.status }, p.status.replace(/_/g, " "))), el("td", {}, link)));
    }
    if (!(e.payouts || []).length) pays.append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "No payouts yet.")));
    loadQuality().catch(ctx.error);
    $("#payout-status").textContent = acct.mode === "manual"
      ? "Payouts are made manually by the operator (statement per payout); no account to set up."
      : acct.account_id ? (acct.payouts_enabled ? "Payout account ready." : "Onboarding not finished yet.") : "No payout account yet.";
    $("#payout-onboard").hidden = acct.mode === "manual" || acct.payouts_enabled;
  } catch (err) { ctx.error(err); }
}

// The statement needs the bearer token, so it is fetched and handed to the browser as a file.
async function downloadStatement(p) {
  try {
    const url = URL.createObjectURL(await api("GET", "/payouts/" + p.id + "/statement.csv", { token: ctx.me.token, raw: true }));
    const a = el("a", { href: url, download: "gigcx-payout-" + p.id + ".csv" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) { ctx.error(e); }
}

// Why rewards are held or offers fewer (docs/trust.md): quality under a brand's threshold, signals.
async function loadQuality() {
  const q = await api("GET", "/experts/me/quality", { token: ctx.me.token });
  const notes = clear($("#quality-notes"));
  for (const s of q.scores.filter((x) => x.below_threshold)) notes.append(el("li", {}, s.brand + ": " + s.reason));
  for (const h of q.held) notes.append(el("li", {}, "Case #" + h.case_id + " (" + h.brand + "): reward held for review: " + h.reasons.join("; ")));
  $("#quality-card").hidden = !notes.children.length;
}

// --- profile ----------------------------------------------------------------------------------
export async function loadProfile() {
  try {
    const p = await api("GET", "/experts/me", { token: ctx.me.token });
    $("#profile-name").textContent = p.display_name;
    $("#profile-meta").textContent = p.email + " · languages: " + (p.languages || []).join(", ") + " · up to " + p.max_cases + " chats at once";
    const s = p.stats;
    clear($("#profile-kpis")).append(kpi("Cases", String(s.cases)), kpi("Resolved", pct(s.resolution_rate)),
      kpi("CSAT", num(s.csat_avg)), kpi("Ratings", String(s.csat_count)), kpi("First response p50", dur(s.first_response_p50_s)));
    const body = clear($("#profile-topics"));
    for (const [topic, t] of Object.entries(s.by_topic)) {
      body.append(el("tr", {}, el("td", {}, topic), el("td", {}, String(t.cases)), el("td", {}, pct(t.resolution_rate)),
        el("td", {}, num(t.csat_avg)), el("td", {}, String(t.csat_count)), el("td", {}, dur(t.first_response_p50_s))));
    }
    if (!Object.keys(s.by_topic).length) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No cases yet.")));
  } catch (e) { ctx.error(e); }
}
