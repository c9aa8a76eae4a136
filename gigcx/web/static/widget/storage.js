/* GigCX customer widget: the per-brand record in localStorage (session token, offline outbox). */

// One JSON record per brand in localStorage; memory only when storage is unavailable.
var KEY = "gigcx:v1:" + BRAND;
var memory = {};

function load() {
  try {
    var raw = window.localStorage.getItem(KEY);
    var state = raw ? JSON.parse(raw) : {};
    return state && typeof state === "object" ? state : {};
  } catch (e) {
    return memory;
  }
}

function save(update) {
  var state = load();
  update(state);
  try {
    window.localStorage.setItem(KEY, JSON.stringify(state));
  } catch (e) {
    memory = state;
  }
  return state;
}

function outbox() {
  return load().outbox || [];
}

function uuid() {
  if (window.crypto && crypto.randomUUID && window.isSecureContext) return crypto.randomUUID();
  var b = new Uint8Array(16);
  crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}
