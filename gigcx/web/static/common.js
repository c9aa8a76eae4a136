// Shared helpers of the expert and brand consoles. Data is only ever put in the page with
// textContent / DOM APIs (never innerHTML); tokens live in sessionStorage and go out as
// `Authorization: Bearer` headers (no cookies, hence no CSRF).

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export function tokenStore(name) {
  return {
    get: () => { try { return JSON.parse(sessionStorage.getItem(name) || "null"); } catch (e) { return null; } },
    set: (v) => sessionStorage.setItem(name, JSON.stringify(v)),
    clear: () => sessionStorage.removeItem(name),
  };
}

export async function api(method, path, { token, body, raw } = {}) {
  const headers = { Accept: raw ? "text/csv" : "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch("/api/v1" + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store",
  });
  if (!resp.ok) {
    let code = "error", message = resp.status + " " + resp.statusText;
    try { const j = await resp.json(); code = j.error.code; message = j.error.message; } catch (e) { /* not JSON */ }
    throw new ApiError(resp.status, code, message);
  }
  if (raw) return resp.blob();
  return resp.status === 204 ? null : resp.json();
}

// el("div", {class: "x", onclick: fn, dataset: {id: 1}}, "text", child, ...)
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "value" || k === "checked" || k === "disabled") node[k] = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

export function clear(node) { node.replaceChildren(); return node; }

export function money(cents, currency = "usd") {
  if (cents === null || cents === undefined) return "–";
  try {
    // Amounts are minor units of the currency: cents, but yen for JPY and fils (1/1000) for KWD.
    const fmt = new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() });
    return fmt.format(cents / 10 ** fmt.resolvedOptions().maximumFractionDigits);
  } catch (e) { return (cents / 100).toFixed(2) + " " + currency.toUpperCase(); }
}

export function dur(s) {
  if (s === null || s === undefined) return "–";
  if (s < 10) return (Math.round(s * 10) / 10) + " s";
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  if (s < 172800) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}

export function pct(x) { return x === null || x === undefined ? "–" : Math.round(x * 1000) / 10 + "%"; }
export function num(x, d = 2) { return x === null || x === undefined ? "–" : String(Math.round(x * 10 ** d) / 10 ** d); }
export function when(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }
/** A query string of the parameters that have a value. */
export const qs = (o) => "?" + new URLSearchParams(Object.entries(o).filter(([, v]) => v !== "" && v !== null && v !== undefined)).toString();

// A line of feedback in a status area (role=status so screen readers hear it).
export function say(node, text, kind = "info") {
  node.textContent = text;
  node.className = "notice " + kind;
  node.hidden = !text;
}

export function form(formNode) {
  const out = {};
  for (const [k, v] of new FormData(formNode).entries()) out[k] = typeof v === "string" ? v.trim() : v;
  return out;
}

// Tabs: buttons [data-tab=name] show section#tab-name; the hash keeps the choice across reloads.
export function tabs(onShow) {
  const show = (name) => {
    const btn = $(`nav [data-tab="${CSS.escape(name)}"]`) || $("nav [data-tab]");
    if (!btn) return;
    name = btn.dataset.tab;
    for (const b of $$("nav [data-tab]")) b.setAttribute("aria-current", b === btn ? "page" : "false");
    for (const s of $$("section.tab")) s.hidden = s.id !== "tab-" + name;
    if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
    onShow(name);
  };
  for (const b of $$("nav [data-tab]")) b.addEventListener("click", () => show(b.dataset.tab));
  return show;
}

export function uid() {
  const a = new Uint8Array(8);
  crypto.getRandomValues(a);
  return Array.from(a, (x) => x.toString(16).padStart(2, "0")).join("");
}

// Download a CSV that needs the bearer token: fetch it, then hand the blob to the browser.
export async function download(path, token, filename) {
  const blob = await api("GET", path, { token, raw: true });
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Who wrote a line, as the reader of the transcript calls them: their own lines say "You".
const SENDERS = { customer: "Customer", expert: "Expert", staff: "Brand staff", system: "" };
export function senderLabel(sender, viewer) {
  return sender === viewer ? "You" : SENDERS[sender] ?? sender;
}

// One transcript line; `viewer` ("expert" or "staff") is whose console shows it.
export function messageItem(m, viewer) {
  const mine = m.sender === viewer;
  return el("li", { class: "msg " + m.sender + (mine ? " mine" : ""), dataset: { seq: m.seq } },
    el("span", { class: "who" }, senderLabel(m.sender, viewer)),
    el("span", { class: "text" }, m.text),
    el("time", { datetime: m.sent_at }, m.sent_at ? new Date(m.sent_at).toLocaleTimeString() : ""));
}

// Regions that scroll on their own (wide tables on a phone, long transcripts and feeds) take
// keyboard focus, so they can be scrolled without a mouse; each is named after its heading.
const SCROLLABLE = ".table-wrap, ul.log, ul.feed";
function focusable(node) {
  if (node.hasAttribute("tabindex")) return;
  node.setAttribute("tabindex", "0");
  if (!node.hasAttribute("aria-label")) {
    const card = node.closest(".card, section");
    const heading = card && card.querySelector("h2, h3");
    if (heading) {
      if (node.tagName !== "UL") node.setAttribute("role", "region"); // a list stays a list
      node.setAttribute("aria-label", heading.textContent.trim());
    }
  }
}
function scan(root) {
  if (root.matches && root.matches(SCROLLABLE)) focusable(root);
  if (root.querySelectorAll) for (const n of root.querySelectorAll(SCROLLABLE)) focusable(n);
}
scan(document);
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) scan(n);
}).observe(document.documentElement, { childList: true, subtree: true });
