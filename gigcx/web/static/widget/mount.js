/* GigCX customer widget: the host page's API and events, and mounting. Runs last. */

/** DOM events for the host page (no message text in them). */
function fire(name, detail) {
  detail.brand = BRAND;
  try {
    window.dispatchEvent(new CustomEvent("gigcx:" + name, { detail: detail }));
  } catch (e) { /* very old browsers */ }
}

window.GigCX = window.GigCX || {};
window.GigCX[BRAND] = {
  open: function () { setOpen(true); },
  close: function () { setOpen(false); }
};

function findScript() {
  var all = document.querySelectorAll("script[data-brand][src]");
  for (var i = all.length - 1; i >= 0; i--) if (/\/widget\.js(\?|$)/.test(all[i].src)) return all[i];
  return null;
}

function positiveNumber(value, fallback) {
  var n = Number(value);
  return value !== null && isFinite(n) && n >= 0 ? n : fallback;
}

function mount() {
  document.body.appendChild(host);
  // Another signed-in user (or none after a sign-out) must not resume the previous one's chat.
  if ((load().uid || "") !== USER_ID) save(function (s) { for (var k in s) delete s[k]; s.uid = USER_ID; });
  var state = load();
  render();
  // A returning customer (or one with queued messages) reconnects at once to catch up;
  // a first-time visitor loads nothing more until the chat is opened.
  if (state.token || (state.outbox && state.outbox.length)) ensureSocket();
  (state.outbox || []).forEach(function (item) {
    if (item.kind === "ask") pendingEl(item, "queued");
  });
  var wasOpen = false;
  try { wasOpen = window.sessionStorage.getItem(KEY + ":open") === "1"; } catch (e) { /* disabled */ }
  if (wasOpen || script.getAttribute("data-open") === "true") setOpen(true, true);
  fire("ready", {});
}

if (document.body) mount();
else document.addEventListener("DOMContentLoaded", mount);
