// Notifications in the consoles: the brand's webhook endpoints and delivery log (Integrations
// tab), and the e-mail preferences of experts, staff and the brand's contact. DOM APIs only.
import { api, clear, el, when } from "./common.js";

const EVENTS = ["case.created", "case.offered", "case.accepted", "case.resolved", "case.escalated",
  "case.rated", "case.reviewed", "payout.sent", "payout.failed"];

function checkbox(name, label, checked, disabled) {
  return el("label", { class: "inline" }, el("input", { type: "checkbox", name, checked, disabled }), " " + label);
}

function languageSelect(value, disabled) {
  return el("label", { class: "inline" }, "Language ",
    el("select", { name: "language", disabled },
      el("option", { value: "en", selected: value === "en" }, "English"),
      el("option", { value: "fr", selected: value === "fr" }, "Français")));
}

// A card of e-mail preferences saved with PUT `path`; `lists` is [[field, label], ...].
export async function preferencesCard(box, token, path, title, lists, notify, extra = []) {
  const prefs = await api("GET", path, { token });
  const f = el("form", { class: "prefs" },
    ...lists.map(([k, label]) => el("p", {}, checkbox(k, label, prefs[k]))),
    ...extra.map((build) => build(prefs)),
    el("p", {}, languageSelect(prefs.language)),
    el("p", { class: "row" }, el("button", { class: "primary", type: "submit" }, "Save")));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { language: f.language.value };
    for (const [k] of lists) body[k] = f[k].checked;
    if (f.contact_email) body.contact_email = f.contact_email.value.trim() || null;
    try { await api("PUT", path, { token, body }); notify.ok("E-mail preferences saved."); } catch (e) { notify.error(e); }
  });
  clear(box).append(el("h2", {}, title),
    prefs.smtp_configured ? "" : el("p", { class: "muted" }, "E-mail is not configured on this server yet; your choice is kept."),
    f);
}

export function expertPreferences(box, token, notify) {
  return preferencesCard(box, token, "/experts/me/notifications", "E-mails", [
    ["offers", "A question waits for me while I am away"],
    ["digest", "A daily digest of my earnings"],
    ["payouts", "Payout notices"]], notify);
}

// --- the brand console's Integrations tab ------------------------------------------------------
const FOLLOW_MS = 3000;

// The delivery log follows what the sender records (new deliveries, a pending one delivered or
// failed, attempts) while the tab is on screen, without touching the forms above it. One
// follower per tab: reopening the tab replaces it; it stops once the log leaves the page.
function followDeliveries(root, me, tbody, deliveryRows, shown) {
  clearTimeout(root.followTimer);
  const tick = async () => {
    if (!tbody.isConnected) return;
    if (!root.hidden && document.visibilityState === "visible") {
      try {
        const log = await api("GET", "/webhooks/deliveries?limit=100", { token: me.token });
        const now = JSON.stringify(log.deliveries);
        if (now !== shown && tbody.isConnected) { shown = now; tbody.replaceChildren(...deliveryRows(log.deliveries)); }
      } catch (e) { /* a failed poll is retried on the next tick; a revoked token ends the session elsewhere */ }
    }
    if (tbody.isConnected) root.followTimer = setTimeout(tick, FOLLOW_MS);
  };
  root.followTimer = setTimeout(tick, FOLLOW_MS);
}

export async function loadIntegrations(root, me, notify) {
  const write = me.role !== "analyst";
  const [eps, log] = await Promise.all([api("GET", "/webhooks/endpoints", { token: me.token }),
    api("GET", "/webhooks/deliveries?limit=100", { token: me.token })]);
  const reload = () => loadIntegrations(root, me, notify).catch(notify.error);
  const call = async (method, path, body, done) => {
    try { const r = await api(method, path, { token: me.token, body }); notify.ok(done(r)); reload(); } catch (e) { notify.error(e); }
  };

  const rows = eps.endpoints.map((ep) => el("tr", { dataset: { endpoint: ep.id } },
    el("td", {}, el("code", {}, ep.url), ep.description ? el("div", { class: "muted" }, ep.description) : ""),
    el("td", {}, ep.kind),
    el("td", {}, ep.events.join(", ")),
    el("td", {}, el("span", { class: "pill " + ep.status }, ep.status),
      ep.disabled_reason ? el("div", { class: "muted" }, ep.disabled_reason) : "",
      ep.failing_since ? el("div", { class: "muted" }, "failing since " + when(ep.failing_since)) : ""),
    el("td", { class: "write" }, write ? [
      ep.status === "disabled"
        ? el("button", { type: "button", onclick: () => call("PATCH", `/webhooks/endpoints/${ep.id}`, { status: "active" }, () => "Endpoint enabled.") }, "Enable")
        : el("button", { type: "button", onclick: () => call("PATCH", `/webhooks/endpoints/${ep.id}`, { status: "disabled" }, () => "Endpoint disabled.") }, "Disable"),
      el("button", { type: "button", onclick: () => call("POST", `/webhooks/endpoints/${ep.id}/rotate-secret`, {},
        (r) => "New signing secret (the old one keeps signing for a day): " + r.secret) }, "Rotate secret"),
      el("button", { type: "button", class: "danger", onclick: () => call("DELETE", `/webhooks/endpoints/${ep.id}`, undefined, () => "Endpoint deleted.") }, "Delete"),
    ] : "")));
  const endpoints = el("div", { class: "card" }, el("h2", {}, "Webhook endpoints"),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ...["URL", "Kind", "Events", "State", ""].map((h) => el("th", {}, h)))),
      el("tbody", { id: "endpoints" }, rows.length ? rows : el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No endpoints yet."))))));

  const form = el("form", { id: "endpoint-form" },
    el("label", { for: "ep-url" }, "URL"), el("input", { id: "ep-url", name: "url", type: "url", required: true, placeholder: "https://example.com/gigcx" }),
    el("label", { for: "ep-kind" }, "Kind"),
    el("select", { id: "ep-kind", name: "kind" }, el("option", { value: "webhook" }, "Webhook (signed JSON events)"),
      el("option", { value: "chat" }, "Team chat incoming webhook (escalations as text)")),
    el("label", { for: "ep-desc" }, "Description"), el("input", { id: "ep-desc", name: "description", maxlength: 200 }),
    el("fieldset", {}, el("legend", {}, "Events"), ...EVENTS.map((e) => checkbox("ev-" + e, e, e === "case.escalated"))),
    el("p", { class: "row" }, el("button", { class: "primary", type: "submit" }, "Add endpoint")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const events = EVENTS.filter((e) => form["ev-" + e].checked);
    call("POST", "/webhooks/endpoints", { url: form.url.value.trim(), kind: form.kind.value, description: form.description.value, events },
      (r) => "Endpoint added. Its signing secret (copy it now): " + r.secret);
  });

  const deliveryRows = (list) => list.length ? list.map((d) => el("tr", { dataset: { delivery: d.id } },
    el("td", {}, when(d.created_at)), el("td", {}, d.event_type), el("td", {}, d.case_id ?? "–"),
    el("td", {}, el("span", { class: "pill " + d.status }, d.status)),
    el("td", {}, d.response_status ?? "–", d.error ? el("div", { class: "muted" }, d.error) : ""),
    el("td", {}, String(d.attempts)),
    el("td", { class: "write" }, write ? el("button", { type: "button", onclick: () => call("POST", `/webhooks/deliveries/${d.id}/replay`, undefined, () => "Replay queued.") }, "Replay") : "")))
    : [el("tr", {}, el("td", { colspan: 7, class: "muted" }, "Nothing sent yet."))];
  const tbody = el("tbody", { id: "deliveries" }, ...deliveryRows(log.deliveries));
  const logCard = el("div", { class: "card" }, el("h2", {}, "Delivery log"),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ...["When", "Event", "Case", "Status", "Response", "Attempts", ""].map((h) => el("th", {}, h)))),
      tbody)));

  followDeliveries(root, me, tbody, deliveryRows, JSON.stringify(log.deliveries));

  const mine = el("div", { class: "card" });
  const contact = el("div", { class: "card write" });
  clear(root).append(endpoints, el("div", { class: "grid two" }, write ? el("div", { class: "card write" }, el("h2", {}, "Add an endpoint"), form) : "", logCard),
    el("div", { class: "grid two" }, mine, contact));
  if (me.staff) {
    await preferencesCard(mine, me.token, "/staff/me/notifications", "My e-mails", [
      ["escalations", "Escalated cases"], ["alerts", "Integration alerts"]], notify);
  } else mine.hidden = true;
  if (write) {
    await preferencesCard(contact, me.token, "/brand/notifications", "Brand contact for alerts", [["alerts", "E-mail when an endpoint is disabled"]], notify,
      [(p) => el("p", {}, el("label", { for: "contact-email" }, "Contact e-mail (empty: the admins)"),
        el("input", { id: "contact-email", name: "contact_email", type: "email", value: p.contact_email || "" }))]);
  } else contact.hidden = true;
}
