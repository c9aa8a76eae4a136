/* GigCX customer widget: the script tag's settings.
 *
 * The files of this folder are one program: gigcx/web/widget.py joins them, in the order of its
 * WIDGET_PARTS, inside one function scope where `io` (socket.io-client) is in scope, and serves
 * the result as /widget.js. They share that scope, so a name defined in one is seen by the others.
 * Everything lives in a shadow root; every piece of text from the network is set with textContent,
 * never as HTML.
 */

var script = document.currentScript || findScript();
if (!script || !io) return;
var BRAND = script.getAttribute("data-brand") || "";
if (!BRAND) {
  console.error("GigCX widget: the script tag needs data-brand=\"YOUR-BRAND-SLUG\"");
  return;
}
var loaded = (window.__gigcxLoaded = window.__gigcxLoaded || {});
if (loaded[BRAND]) return; // the tag was pasted twice
loaded[BRAND] = true;

var SRC = new URL(script.src, location.href);
var ORIGIN = SRC.origin;
var PREFIX = SRC.pathname.replace(/\/widget\.js$/, "");
var POSITION = script.getAttribute("data-position") === "left" ? "left" : "right";
var PATIENCE_S = positiveNumber(script.getAttribute("data-patience"), 30);
// A known customer: the brand's user id and its HMAC-SHA256 with the brand's identity secret,
// made by the brand's server (docs/widget.md). One customer across devices.
var USER_ID = script.getAttribute("data-user-id") || "";
var USER_HASH = script.getAttribute("data-user-hash") || "";
var OPEN_SET = { matching: 1, active: 1, pending_confirmation: 1, escalated: 1 };
var CALL_TIMEOUT_MS = 10000;
