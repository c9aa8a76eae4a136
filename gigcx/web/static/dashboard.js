// The brand console's dashboard: KPIs, charts and the per-topic and per-expert tables of a
// period, and that period's CSV exports.
import { $, api, clear, download, dur, el, form, num, pct, qs } from "./common.js";

let ctx = null; // {me, error, topicName}, from brand.js
const charts = {};

/** Wire the period form and the export buttons (once, at load). */
export function bindDashboard(context) {
  ctx = context;
  $("#range").addEventListener("submit", (ev) => { ev.preventDefault(); loadDashboard().catch(ctx.error); });
  $("#export-cases").addEventListener("click", () => { const r = range(); download("/cases/export.csv" + qs({ since: r.since, until: r.until }), ctx.me.token, "cases.csv").catch(ctx.error); });
  $("#export-metrics").addEventListener("click", () => download("/metrics/export.csv" + qs(range()), ctx.me.token, "metrics.csv").catch(ctx.error));
}

function range() {
  const f = form($("#range"));
  const until = new Date(Date.now() + 60000);
  const since = new Date(until - Number(f.days) * 86400000);
  // A period of 1 day by the week (or 90 by the hour) makes no chart: pick the sensible bucket.
  const bucket = Number(f.days) <= 1 ? "hour" : f.bucket === "hour" && Number(f.days) > 7 ? "day" : f.bucket;
  return { since: since.toISOString(), until: until.toISOString(), bucket };
}

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

export async function loadDashboard() {
  const m = await api("GET", "/metrics" + qs(range()), { token: ctx.me.token });
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
    topics.append(el("tr", {}, el("td", {}, ctx.topicName(t)), el("td", {}, String(v.cases)), el("td", {}, pct(v.resolution_rate)),
      el("td", {}, pct(v.escalation_rate)), el("td", {}, dur(v.first_response_p50_s)), el("td", {}, num(v.csat_avg))));
  }
  const experts = clear($("#by-expert"));
  for (const v of Object.values(m.by_expert)) {
    experts.append(el("tr", {}, el("td", {}, v.display_name || "?"), el("td", {}, String(v.cases)), el("td", {}, pct(v.resolution_rate)),
      el("td", {}, dur(v.first_response_p50_s)), el("td", {}, num(v.csat_avg)), el("td", {}, num(v.nps, 0))));
  }
}

