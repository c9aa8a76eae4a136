/* GigCX customer widget: the stylesheet and the elements of the shadow root. */

var CSS = [
  ":host{all:initial!important;display:block!important;position:static!important}",
  "*{box-sizing:border-box}",
  "[hidden]{display:none!important}",
  ".root{font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:#1b1b1f;-webkit-text-size-adjust:100%}",
  ".sr{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;margin:-1px;padding:0;border:0}",
  "button,input,textarea{font:inherit;color:inherit}",
  "button{cursor:pointer}",
  ":focus-visible{outline:3px solid #ffb000;outline-offset:2px}",
  ".launcher{position:fixed;bottom:16px;right:16px;z-index:2147483000;display:flex;align-items:center;gap:8px;min-height:56px;min-width:56px;padding:0 20px;border:0;border-radius:28px;background:#1849b5;color:#fff;font-weight:600;box-shadow:0 4px 16px rgba(0,0,0,.3)}",
  ".left .launcher{right:auto;left:16px}",
  ".launcher svg{width:24px;height:24px;fill:currentColor}",
  ".badge{background:#fff;color:#9b0016;border-radius:12px;padding:0 8px;font-size:13px;line-height:22px;font-weight:700}",
  ".panel{position:fixed;inset:0;z-index:2147483001;display:flex;flex-direction:column;background:#fff;width:100%;height:100%;height:100dvh}",
  "@media (min-width:600px){.panel{inset:auto 16px 88px auto;width:380px;height:min(640px,calc(100vh - 112px));border-radius:14px;overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.28)}.left .panel{right:auto;left:16px}}",
  "@media (max-width:599.98px){.open .launcher{display:none}}",
  ".head{display:flex;align-items:flex-start;gap:8px;padding:12px 12px 12px 16px;background:#1849b5;color:#fff}",
  ".head .titles{flex:1;min-width:0}",
  ".head h2{margin:0;font-size:17px;line-height:1.3;font-weight:700}",
  ".head p{margin:2px 0 0;font-size:14px;color:#e8eeff}",
  ".head .rating{white-space:nowrap}",
  ".x{flex:none;width:44px;height:44px;border:0;border-radius:22px;background:transparent;color:#fff;font-size:26px;line-height:44px}",
  ".x:hover{background:rgba(255,255,255,.15)}",
  ".status{padding:10px 16px;font-size:14px;border-bottom:1px solid #e3e3e8;background:#fff8e1;color:#3d2e00}",
  ".status strong{display:block;font-size:15px}",
  ".status.escalated{background:#eef2ff;color:#1d2a5c}",
  ".status.offline,.status.unavailable{background:#fdecee;color:#7a0014}",
  ".status.pending{background:#e9f7ef;color:#0f4a28}",
  ".status .actions{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px}",
  ".body{flex:1;overflow-y:auto;padding:12px 16px;overscroll-behavior:contain}",
  ".intro{margin:4px 0 12px;color:#3a3a44}",
  ".log{list-style:none;margin:0;padding:0}",
  ".msg{max-width:85%;margin:8px 0;padding:8px 12px;border-radius:16px;background:#eef0f4;color:#1b1b1f;white-space:pre-wrap;overflow-wrap:anywhere;width:fit-content}",
  ".msg .who{display:block;font-size:12px;font-weight:700;color:#44444f}",
  ".msg .when{display:block;font-size:12px;color:#55555f;margin-top:2px}",
  ".msg.customer{margin-left:auto;background:#1849b5;color:#fff;border-bottom-right-radius:4px}",
  ".msg.customer .who,.msg.customer .when{color:#dfe7ff}",
  ".msg.expert,.msg.staff{border-bottom-left-radius:4px}",
  ".msg.system{max-width:100%;margin:8px auto;background:none;color:#44444f;font-size:14px;text-align:center;font-style:italic}",
  ".msg.system .who{display:none}",
  ".msg.pending{background:#fff;color:#1b1b1f;border:2px dashed #1849b5}",
  ".msg.pending .who,.msg.pending .when{color:#33333d}",
  ".msg.failed{border-color:#b00020}",
  ".typing{margin:4px 0;font-size:14px;color:#44444f;font-style:italic}",
  ".suggestions{margin:12px 0;padding:0;list-style:none}",
  ".suggestions h3,.card h3{font-size:15px;margin:0 0 8px}",
  ".sugg{border:1px solid #cfd3dc;border-radius:12px;padding:10px 12px;margin:0 0 8px;background:#fbfbfd}",
  ".sugg .q{margin:0 0 4px;font-size:14px;color:#44444f}",
  ".sugg .a{margin:0 0 8px;white-space:pre-wrap;overflow-wrap:anywhere}",
  ".sugg.solved{border-color:#1a7f37;background:#f3faf5;margin:8px 0 12px}",
  ".sugg-empty{margin:0;padding:10px 12px;border:1px dashed #cfd3dc;border-radius:12px;color:#44444f;font-size:14px}",
  ".btn{min-height:44px;padding:8px 16px;border-radius:22px;border:2px solid #1849b5;background:#fff;color:#1849b5;font-weight:600}",
  ".btn.primary{background:#1849b5;color:#fff}",
  ".btn:disabled{opacity:.6;cursor:default}",
  ".card{border:1px solid #cfd3dc;border-radius:12px;padding:12px;margin:12px 0;background:#fbfbfd}",
  ".card p{margin:0 0 8px}",
  "fieldset{border:0;margin:0 0 12px;padding:0}",
  "legend{font-weight:600;margin-bottom:6px;padding:0}",
  ".scale{display:flex;flex-wrap:wrap;gap:6px}",
  ".scale label{position:relative}",
  ".scale input{position:absolute;opacity:0;width:100%;height:100%;margin:0;cursor:pointer}",
  ".scale span{display:inline-flex;align-items:center;justify-content:center;min-width:44px;min-height:44px;padding:0 10px;border:2px solid #8b8f9c;border-radius:22px;background:#fff;color:#1b1b1f}",
  ".scale input:checked+span{background:#1849b5;border-color:#1849b5;color:#fff}",
  ".scale input:focus-visible+span{outline:3px solid #ffb000;outline-offset:2px}",
  ".hint{font-size:13px;color:#44444f;margin:4px 0 0}",
  ".card textarea{width:100%;min-height:72px;border:2px solid #8b8f9c;border-radius:10px;padding:8px}",
  ".error{color:#9b0016;font-size:14px}",
  ".row{display:flex;flex-wrap:wrap;gap:8px}",
  "form.composer{display:flex;gap:8px;align-items:flex-end;padding:10px 12px;border-top:1px solid #e3e3e8;background:#fff;padding-bottom:max(10px,env(safe-area-inset-bottom))}",
  ".composer textarea{flex:1;min-height:44px;max-height:140px;resize:none;padding:10px 12px;border:2px solid #8b8f9c;border-radius:22px;background:#fff;font-size:16px}",
  ".composer textarea:focus{border-color:#1849b5}",
  "@media (prefers-reduced-motion:no-preference){.panel{animation:gcx-in .15s ease-out}@keyframes gcx-in{from{opacity:0;transform:translateY(8px)}to{opacity:1;transform:none}}}"
].join("\n");

function el(tag, attrs, children) {
  var node = document.createElement(tag);
  if (attrs) {
    for (var k in attrs) {
      if (!Object.prototype.hasOwnProperty.call(attrs, k)) continue;
      var v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
  }
  (children || []).forEach(function (c) { if (c) node.appendChild(c); });
  return node;
}

function svgChat() {
  var ns = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  var path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
  svg.appendChild(path);
  return svg;
}

var host = document.createElement("gigcx-widget");
host.setAttribute("data-brand", BRAND);
var shadow = host.attachShadow({ mode: "open" });
if ("adoptedStyleSheets" in shadow && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
  // Constructed sheets are not inline <style>, so a host page's CSP needs no 'unsafe-inline'.
  var sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  shadow.adoptedStyleSheets = [sheet];
} else {
  shadow.appendChild(el("style", { text: CSS }));
}

var ui = {};
ui.badge = el("span", { class: "badge", hidden: true, "aria-hidden": "true" });
ui.launcherText = el("span", { text: t("launcher") });
ui.launcher = el("button", {
  type: "button", class: "launcher", "aria-label": t("launcherLabel"), "aria-expanded": "false",
  "aria-controls": "gigcx-panel", onclick: function () { setOpen(!isOpen); }
}, [svgChat(), ui.launcherText, ui.badge]);

ui.title = el("h2", { id: "gigcx-title", text: t("title") });
ui.subtitle = el("p", { text: t("subtitle") });
ui.close = el("button", { type: "button", class: "x", "aria-label": t("close"), text: "×",
  onclick: function () { setOpen(false); } });
ui.status = el("div", { class: "status", role: "status", "aria-live": "polite", hidden: true });
ui.intro = el("p", { class: "intro", text: t("intro") });
// The live region wraps the list: role=log on the <ol> itself would hide that it is a list.
ui.log = el("ol", { class: "log" });
ui.logRegion = el("div", { role: "log", "aria-live": "polite", "aria-label": t("conversation") }, [ui.log]);
ui.typing = el("p", { class: "typing", hidden: true });
ui.suggestions = el("section", { class: "suggestions", hidden: true });
ui.card = el("section", { class: "card", hidden: true, "aria-live": "polite" });
ui.body = el("div", { class: "body" }, [ui.intro, ui.logRegion, ui.typing, ui.suggestions, ui.card]);
ui.input = el("textarea", { id: "gigcx-input", rows: "1", maxlength: "4000", enterkeyhint: "send" });
ui.inputLabel = el("label", { class: "sr", for: "gigcx-input" });
ui.send = el("button", { type: "submit", class: "btn primary" });
ui.composer = el("form", { class: "composer", novalidate: true }, [ui.inputLabel, ui.input, ui.send]);
ui.panel = el("div", {
  id: "gigcx-panel", class: "panel", role: "dialog", "aria-labelledby": "gigcx-title", hidden: true
}, [
  el("div", { class: "head" }, [el("div", { class: "titles" }, [ui.title, ui.subtitle]), ui.close]),
  ui.status, ui.body, ui.composer
]);
ui.root = el("div", { class: "root " + POSITION, lang: LANG }, [ui.panel, ui.launcher]);
shadow.appendChild(ui.root);
