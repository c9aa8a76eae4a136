/* GigCX customer widget.
 *
 * Served as part of /widget.js, where `io` (socket.io-client) is in scope. Everything lives in a
 * shadow root; every piece of text from the network is set with textContent, never as HTML.
 */
(function (io) {
  "use strict";

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

  /* ---------------------------------------------------------------- strings (i18n) */

  var STRINGS = {
    en: {
      launcher: "Help",
      launcherLabel: "Help: open the support chat",
      unread: "{n} new",
      unreadLabel: "{n} unread messages",
      title: "Ask an expert",
      subtitle: "Real people who use this product every day",
      close: "Close chat",
      intro: "Ask your question. We find an expert to chat with you, and show answers to similar questions while you wait.",
      askLabel: "Your question",
      askPlaceholder: "Type your question…",
      ask: "Ask",
      messageLabel: "Your message",
      messagePlaceholder: "Write a message…",
      send: "Send",
      conversation: "Conversation",
      suggestions: "These answers may help while we find an expert",
      solved: "This solved it",
      noSuggestions: "No answered question like yours yet: an expert will answer you here.",
      solvedBy: "The answer that helped",
      helped: "{name} helped you",
      done: "This conversation is over.",
      matching: "Finding an expert for you…",
      matchingHelp: "This usually takes a minute. You can stay here or come back later: your conversation is kept on this device.",
      noExpert: "No expert is free yet.",
      noExpertHelp: "We keep looking. If nobody is available soon, the support team takes over and answers here. You can close this window and come back: your question stays open.",
      helping: "{name} is helping you",
      rating: "★ {rating}",
      ratingLabel: "rated {rating} out of 5",
      typing: "{name} is typing…",
      someone: "Your expert",
      pending: "{name} thinks your question is solved. Is it?",
      yes: "Yes, it's solved",
      no: "No, I still need help",
      escalated: "Passed to the support team",
      escalatedHelp: "The brand's own support staff will answer in this conversation. You can close this window: come back any time to read their reply.",
      offline: "You are offline. Messages you write will be sent when you are back online.",
      connecting: "Connecting…",
      unavailable: "The chat is not available right now.",
      rateTitle: "How did it go?",
      csat: "How satisfied are you with the help you got?",
      csatLabels: ["Very unsatisfied", "Unsatisfied", "Neutral", "Satisfied", "Very satisfied"],
      nps: "How likely are you to recommend us to a friend?",
      npsLow: "0 = not at all likely",
      npsHigh: "10 = extremely likely",
      comment: "Anything else you want to tell us? (optional)",
      submit: "Send feedback",
      skip: "Skip",
      chooseCsat: "Please choose how satisfied you are.",
      thanks: "Thank you for your feedback!",
      resolved: "Your question is solved.",
      deflected: "Great, glad that answer helped!",
      closed: "This conversation is closed.",
      another: "Ask another question",
      you: "You",
      expert: "Expert",
      staff: "Support team",
      system: "Notice",
      queued: "Will send when you are back online",
      sending: "Sending…",
      failed: "Not sent: {reason}",
      error: "Something went wrong. Please try again."
    },
    fr: {
      launcher: "Aide",
      launcherLabel: "Aide : ouvrir le chat d'assistance",
      unread: "{n} nouveaux",
      unreadLabel: "{n} messages non lus",
      title: "Demandez à un expert",
      subtitle: "De vraies personnes qui utilisent ce produit tous les jours",
      close: "Fermer le chat",
      intro: "Posez votre question. Nous cherchons un expert pour discuter avec vous, et vous montrons en attendant les réponses à des questions similaires.",
      askLabel: "Votre question",
      askPlaceholder: "Écrivez votre question…",
      ask: "Envoyer",
      messageLabel: "Votre message",
      messagePlaceholder: "Écrivez un message…",
      send: "Envoyer",
      conversation: "Conversation",
      suggestions: "Ces réponses peuvent vous aider pendant que nous cherchons un expert",
      solved: "Ça a résolu mon problème",
      noSuggestions: "Pas encore de question similaire avec sa réponse : un expert vous répondra ici.",
      solvedBy: "La réponse qui vous a aidé",
      helped: "{name} vous a aidé",
      done: "Cette conversation est terminée.",
      matching: "Nous cherchons un expert pour vous…",
      matchingHelp: "Cela prend en général une minute. Restez ici ou revenez plus tard : votre conversation est gardée sur cet appareil.",
      noExpert: "Aucun expert n'est encore disponible.",
      noExpertHelp: "Nous continuons à chercher. Si personne n'est disponible bientôt, l'équipe d'assistance prend le relais et répond ici. Vous pouvez fermer cette fenêtre et revenir : votre question reste ouverte.",
      helping: "{name} vous aide",
      rating: "★ {rating}",
      ratingLabel: "noté {rating} sur 5",
      typing: "{name} écrit…",
      someone: "Votre expert",
      pending: "{name} pense que votre question est résolue. Est-ce le cas ?",
      yes: "Oui, c'est résolu",
      no: "Non, j'ai encore besoin d'aide",
      escalated: "Transmis à l'équipe d'assistance",
      escalatedHelp: "L'équipe d'assistance de la marque répondra dans cette conversation. Vous pouvez fermer cette fenêtre : revenez quand vous voulez pour lire sa réponse.",
      offline: "Vous êtes hors ligne. Vos messages seront envoyés dès votre retour en ligne.",
      connecting: "Connexion…",
      unavailable: "Le chat n'est pas disponible pour le moment.",
      rateTitle: "Comment ça s'est passé ?",
      csat: "Êtes-vous satisfait de l'aide reçue ?",
      csatLabels: ["Très insatisfait", "Insatisfait", "Neutre", "Satisfait", "Très satisfait"],
      nps: "Quelle est la probabilité que vous nous recommandiez à un ami ?",
      npsLow: "0 = pas du tout probable",
      npsHigh: "10 = très probable",
      comment: "Autre chose à nous dire ? (facultatif)",
      submit: "Envoyer l'avis",
      skip: "Passer",
      chooseCsat: "Indiquez votre satisfaction, s'il vous plaît.",
      thanks: "Merci pour votre avis !",
      resolved: "Votre question est résolue.",
      deflected: "Parfait, ravi que cette réponse vous ait aidé !",
      closed: "Cette conversation est close.",
      another: "Poser une autre question",
      you: "Vous",
      expert: "Expert",
      staff: "Équipe d'assistance",
      system: "Info",
      queued: "Sera envoyé à votre retour en ligne",
      sending: "Envoi…",
      failed: "Non envoyé : {reason}",
      error: "Une erreur est survenue. Réessayez, s'il vous plaît."
    }
  };
  var LANG = pickLanguage(script.getAttribute("data-lang"));
  var S = STRINGS[LANG];

  function pickLanguage(wanted) {
    var candidates = [wanted].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < candidates.length; i++) {
      var code = String(candidates[i] || "").toLowerCase().split("-")[0];
      if (STRINGS[code]) return code;
    }
    return "en";
  }

  /** A translated string with {placeholders} filled in (plain text, never HTML). */
  function t(key, vars) {
    var s = S[key] !== undefined ? S[key] : STRINGS.en[key];
    return String(s).replace(/\{(\w+)\}/g, function (_, k) {
      return vars && vars[k] !== undefined ? String(vars[k]) : "";
    });
  }

  /* ---------------------------------------------------------------- storage */

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

  /* ---------------------------------------------------------------- DOM */

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

  /* ---------------------------------------------------------------- state */

  var socket = null;
  var connected = false;
  var refused = false;
  var isOpen = false;
  var current = null;          // the case on screen (payload merged from acks and events)
  var rendered = {};           // seq -> <li>, the messages of `current`
  var pendingEls = {};         // client_id -> <li>, our messages not yet stored by the server
  var maxSeq = 0;
  var inflight = {};           // client_id -> true while an emit waits for its ack
  var flushing = false;
  var typingTimer = null;
  var lastTypingSent = 0;
  var patienceTimer = null;
  var hideSuggestions = false;

  /* ---------------------------------------------------------------- open / close */

  function setOpen(open, quiet) {
    isOpen = open;
    ui.panel.hidden = !open;
    ui.root.classList.toggle("open", open);
    ui.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    try { // per tab: a reload keeps the chat open, a new tab starts closed
      window.sessionStorage.setItem(KEY + ":open", open ? "1" : "");
    } catch (e) { /* storage disabled */ }
    if (open) {
      ensureSocket();
      markSeen();
      if (!quiet) focusFirst();
    } else if (!quiet) {
      ui.launcher.focus();
    }
    fire(open ? "open" : "close", {});
  }

  function focusFirst() {
    if (!ui.composer.hidden) ui.input.focus();
    else {
      var first = ui.card.querySelector("input,button,textarea");
      (first || ui.close).focus();
    }
  }

  ui.panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      e.stopPropagation();
      setOpen(false);
    }
  });

  /* ---------------------------------------------------------------- socket */

  function ensureSocket() {
    if (socket) return;
    socket = io(ORIGIN + PREFIX + "/customer", {
      path: PREFIX + "/socket.io",
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      timeout: 10000,
      autoConnect: navigator.onLine !== false,
      auth: function (cb) {
        var token = load().token;
        var auth = token ? { brand: BRAND, token: token } : { brand: BRAND };
        if (USER_ID && USER_HASH) { auth.user_id = USER_ID; auth.user_hash = USER_HASH; }
        cb(auth);
      }
    });
    socket.on("session", onSession);
    socket.on("case", onCaseEvent);
    socket.on("message", function (m) { if (current && m && m.case_id === current.id) addMessage(m); });
    socket.on("typing", onTyping);
    socket.on("disconnect", function () { connected = false; render(); });
    socket.on("connect_error", function (err) {
      connected = false;
      if (!socket.active) { // refused by the server (e.g. unknown brand): do not retry
        refused = true;
        console.error("GigCX widget: " + (err && err.message));
      }
      render();
    });
  }

  function call(event, data) {
    return new Promise(function (resolve) {
      if (!socket || !connected) {
        resolve({ ok: false, error: { code: "offline", message: "not connected" } });
        return;
      }
      socket.timeout(CALL_TIMEOUT_MS).emit(event, data, function (err, ack) {
        resolve(err || !ack ? { ok: false, error: { code: "timeout", message: "no answer" } } : ack);
      });
    });
  }

  function onSession(data) {
    if (!data || typeof data.token !== "string") return;
    save(function (s) { s.token = data.token; });
    connected = true;
    refused = false;
    render();
    resume();
  }

  /** After every (re)connection: find our case, fetch what we missed, send what we queued. */
  function resume() {
    return call("cases", {}).then(function (ack) {
      if (!ack.ok) return;
      if (current && !find(ack.cases, current.id)) reset(); // a new customer (token unknown to the server)
      var chosen = current ? find(ack.cases, current.id) : choose(ack.cases);
      if (chosen) {
        if (!current || current.id !== chosen.id) setCase(chosen);
        else mergeCase(chosen);
        return syncCase();
      }
    }).then(flushOutbox);
  }

  function find(list, id) {
    for (var i = 0; i < list.length; i++) if (list[i].id === id) return list[i];
    return null;
  }

  /** The newest open case, else the newest finished one still waiting for a rating. */
  function choose(list) {
    var s = load();
    var dismissed = s.dismissed || [];
    var rated = s.rated || [];
    for (var i = 0; i < list.length; i++) if (OPEN_SET[list[i].status]) return list[i];
    var newest = list[0];
    if (newest && dismissed.indexOf(newest.id) < 0 && rated.indexOf(newest.id) < 0 && !newest.deflected) return newest;
    return null;
  }

  function syncCase() {
    if (!current) return Promise.resolve();
    var id = current.id;
    return call("sync", { case_id: id, after_seq: maxSeq }).then(function (ack) {
      if (!ack.ok || !current || current.id !== id) return;
      mergeCase(ack.case);
      ack.messages.forEach(addMessage);
    });
  }

  /* ---------------------------------------------------------------- cases */

  function setCase(c) {
    current = {};
    rendered = {};
    maxSeq = 0;
    hideSuggestions = false;
    // Keep only the pending bubbles of queued messages (the question of this case among them).
    while (ui.log.firstChild) ui.log.removeChild(ui.log.firstChild);
    var old = pendingEls;
    pendingEls = {};
    outbox().forEach(function (item) {
      if (item.kind === "ask" || item.case_id === c.id) {
        if (old[item.client_id]) ui.log.appendChild((pendingEls[item.client_id] = old[item.client_id]));
        else pendingEl(item, canSend() ? "sending" : "queued");
      }
    });
    mergeCase(c);
  }

  function mergeCase(c) {
    if (!c) return;
    // Acks and events are snapshots that can arrive out of order (an ask's ack after the accept's
    // event): keep the newest by the server's revision.
    if (typeof c.rev === "number" && typeof current.rev === "number" && c.rev < current.rev) return;
    var before = current && current.status;
    for (var k in c) if (Object.prototype.hasOwnProperty.call(c, k)) current[k] = c[k];
    if (c.status !== before) fire("status", { case_id: current.id, status: current.status });
    render();
  }

  function onCaseEvent(c) {
    if (!c) return;
    if (current && c.id === current.id) mergeCase(c);
    else if (!current && OPEN_SET[c.status]) { // opened from another tab of this customer
      setCase(c);
      syncCase();
    }
  }

  /* ---------------------------------------------------------------- messages */

  function addMessage(m) {
    if (!m || typeof m.seq !== "number" || rendered[m.seq]) return; // never twice
    if (m.client_id && pendingEls[m.client_id]) {
      pendingEls[m.client_id].remove();
      delete pendingEls[m.client_id];
    }
    var li = messageEl(m.sender, m.text, m.sent_at);
    li.setAttribute("data-seq", String(m.seq));
    var after = null;
    for (var s in rendered) {
      if (Number(s) > m.seq && (!after || Number(s) < Number(after.getAttribute("data-seq")))) after = rendered[s];
    }
    if (!after) after = ui.log.querySelector(".pending");
    ui.log.insertBefore(li, after);
    rendered[m.seq] = li;
    if (m.seq > maxSeq) maxSeq = m.seq;
    if (m.sender === "expert" || m.sender === "staff") hideTyping();
    if (isOpen) markSeen();
    else updateBadge();
    scrollDown();
  }

  function messageEl(sender, text, sentAt) {
    var who = { customer: t("you"), expert: expertName() || t("expert"), staff: t("staff"), system: t("system") }[sender] || "";
    var when = "";
    if (sentAt) {
      var d = new Date(sentAt);
      if (!isNaN(d)) when = d.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" });
    }
    return el("li", { class: "msg " + (sender || "system") }, [
      el("span", { class: "who", text: who }),
      el("span", { class: "text", text: String(text) }),
      when ? el("time", { class: "when", datetime: sentAt, text: when }) : null
    ]);
  }

  function pendingEl(item, state) {
    var li = pendingEls[item.client_id];
    if (!li) {
      li = messageEl("customer", item.text, null);
      li.classList.add("pending");
      li.appendChild(el("span", { class: "when state" }));
      pendingEls[item.client_id] = li;
      ui.log.appendChild(li);
    }
    li.classList.toggle("failed", state === "failed");
    li.querySelector(".state").textContent = state === "failed" ? t("failed", { reason: item.reason || "" })
      : state === "queued" ? t("queued") : t("sending");
    scrollDown();
    return li;
  }

  function scrollDown() {
    ui.body.scrollTop = ui.body.scrollHeight;
  }

  function markSeen() {
    if (!current) return updateBadge();
    var id = current.id;
    save(function (s) {
      s.seen = s.seen || {};
      if (!s.seen[id] || s.seen[id] < maxSeq) s.seen[id] = maxSeq;
    });
    updateBadge();
  }

  function updateBadge() {
    var n = 0;
    if (current && !isOpen) {
      var seen = (load().seen || {})[current.id] || 0;
      for (var s in rendered) {
        var cls = rendered[s].className;
        if (Number(s) > seen && (cls.indexOf("expert") >= 0 || cls.indexOf("staff") >= 0)) n++;
      }
    }
    ui.badge.hidden = n === 0;
    ui.badge.textContent = t("unread", { n: n });
    ui.launcher.setAttribute("aria-label", n ? t("launcherLabel") + " (" + t("unreadLabel", { n: n }) + ")" : t("launcherLabel"));
  }

  /* ---------------------------------------------------------------- sending (with the offline queue) */

  function submit(text) {
    text = text.trim();
    if (!text) return;
    var item = current
      ? { kind: "message", case_id: current.id, text: text, client_id: uuid() }
      : { kind: "ask", text: text, client_id: uuid(), language: LANG };
    save(function (s) { (s.outbox = s.outbox || []).push(item); });
    if (!current) ui.intro.hidden = true;
    pendingEl(item, canSend() ? "sending" : "queued");
    ensureSocket();
    flushOutbox();
  }

  function canSend() {
    return connected && navigator.onLine !== false;
  }

  /** Send queued items in order, each until acknowledged; the server dedupes by client_id. */
  function flushOutbox() {
    if (flushing || !canSend()) return;
    var item = outbox().filter(function (i) { return !inflight[i.client_id]; })[0];
    if (!item) return;
    flushing = true;
    inflight[item.client_id] = true;
    if (pendingEls[item.client_id]) pendingEl(item, "sending");
    var data = item.kind === "ask"
      ? { text: item.text, client_id: item.client_id, language: item.language }
      : { case_id: item.case_id, text: item.text, client_id: item.client_id };
    call(item.kind, data).then(function (ack) {
      delete inflight[item.client_id];
      flushing = false;
      var code = ack.ok ? null : ack.error && ack.error.code;
      if (code === "overloaded") { // the server sheds load: same item, same client_id, a bit later
        if (pendingEls[item.client_id]) pendingEl(item, "sending");
        setTimeout(flushOutbox, Math.min((ack.error.retry_after_ms || 500) + Math.random() * 500, 10000));
        return;
      }
      var retry = code === "offline" || code === "timeout" || code === "internal" || code === "rate_limited";
      if (retry) {
        if (pendingEls[item.client_id]) pendingEl(item, canSend() ? "sending" : "queued");
        return; // stays queued; sent again on the next connection
      }
      if (ack.ok && item.kind === "ask") {
        if (current && current.id === ack.case.id) mergeCase(ack.case);
        else setCase(ack.case); // keeps the question's bubble until the stored one arrives
      }
      save(function (s) {
        s.outbox = (s.outbox || []).filter(function (i) { return i.client_id !== item.client_id; });
      });
      if (ack.ok && item.kind === "ask") {
        syncCase();
      } else if (ack.ok) {
        if (current && ack.message.case_id === current.id) addMessage(ack.message);
      } else if (pendingEls[item.client_id]) {
        item.reason = (ack.error && ack.error.message) || "";
        pendingEl(item, "failed");
      }
      flushOutbox();
    });
  }

  ui.composer.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = ui.input.value;
    if (!text.trim()) return;
    ui.input.value = "";
    autoGrow();
    submit(text);
  });

  ui.input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      ui.composer.requestSubmit ? ui.composer.requestSubmit() : ui.send.click();
    }
  });

  ui.input.addEventListener("input", function () {
    autoGrow();
    if (!current || !OPEN_SET[current.status] || !canSend()) return;
    var now = Date.now();
    if (now - lastTypingSent > 2000) {
      lastTypingSent = now;
      call("typing", { case_id: current.id });
    }
  });

  function autoGrow() {
    ui.input.style.height = "auto";
    ui.input.style.height = Math.min(ui.input.scrollHeight + 4, 140) + "px";
  }

  window.addEventListener("offline", function () {
    // The transport is most likely dead; do not wait for the ping timeout to notice.
    if (socket) socket.disconnect();
    connected = false;
    render();
  });

  window.addEventListener("online", function () {
    if (socket && !socket.connected) socket.connect();
    render();
  });

  /* ---------------------------------------------------------------- typing */

  function onTyping(data) {
    if (!current || !data || data.case_id !== current.id || data.sender === "customer") return;
    var name = data.sender === "staff" ? t("staff") : (expertName() || t("someone"));
    ui.typing.textContent = t("typing", { name: name });
    ui.typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 5000);
    scrollDown();
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    ui.typing.hidden = true;
  }

  /* ---------------------------------------------------------------- rendering */

  function expertName() {
    return current && current.expert && current.expert.display_name;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function setStatus(kind, title, help, actions) {
    var key = [kind, title, help, actions ? actions.length : 0].join("|");
    if (ui.status.getAttribute("data-key") === key) return; // unchanged: do not re-announce
    ui.status.setAttribute("data-key", key);
    clear(ui.status);
    ui.status.hidden = !kind;
    ui.status.className = "status " + (kind || "");
    if (!kind) return;
    ui.status.appendChild(el("strong", { text: title }));
    if (help) ui.status.appendChild(el("span", { text: help }));
    if (actions) ui.status.appendChild(el("div", { class: "actions" }, actions));
  }

  function render() {
    var status = current ? current.status : null;
    var name = expertName();

    // Header: who is helping.
    clear(ui.subtitle);
    if (name && (status === "active" || status === "pending_confirmation")) {
      ui.subtitle.appendChild(document.createTextNode(t("helping", { name: name })));
      // The expert's rating when they have one; an expert without ratings yet gets no label
      // (a "new" badge would only make the customer doubt the help they are getting).
      var r = current.expert.rating;
      if (typeof r === "number") {
        ui.subtitle.appendChild(document.createTextNode(" · "));
        ui.subtitle.appendChild(el("span", { class: "rating", "aria-label": t("ratingLabel", { rating: r.toLocaleString(LANG) }),
          text: t("rating", { rating: r.toLocaleString(LANG) }) }));
      }
    } else if (name && (status === "resolved" || (status === "closed" && !current.deflected))) {
      ui.subtitle.textContent = t("helped", { name: name });
    } else {
      ui.subtitle.textContent = t("subtitle");
    }

    // Status banner: connection first, then what happens next.
    clearTimeout(patienceTimer);
    if (refused) setStatus("unavailable", t("unavailable"));
    else if (navigator.onLine === false) setStatus("offline", t("offline"));
    else if (socket && !connected && (current || outbox().length)) setStatus("offline", t("connecting"));
    else if (status === "matching") {
      var waited = (Date.now() - Date.parse(current.created_at || new Date().toISOString())) / 1000;
      if (waited >= PATIENCE_S) setStatus("matching", t("noExpert"), t("noExpertHelp"));
      else {
        setStatus("matching", t("matching"), t("matchingHelp"));
        patienceTimer = setTimeout(render, (PATIENCE_S - waited) * 1000 + 50);
      }
    } else if (status === "escalated") setStatus("escalated", t("escalated"), t("escalatedHelp"));
    else if (status === "pending_confirmation") {
      setStatus("pending", t("pending", { name: name || t("someone") }), null, [
        el("button", { type: "button", class: "btn primary", text: t("yes"), onclick: function () { confirm(true); } }),
        el("button", { type: "button", class: "btn", text: t("no"), onclick: function () { confirm(false); } })
      ]);
    } else setStatus(null);

    // Intro and suggestions before an expert joins.
    ui.intro.hidden = !!current || Object.keys(pendingEls).length > 0;
    renderSuggestions(status === "matching" && !hideSuggestions ? (current.suggestions || []) : null);

    // Finished: rating form or thanks; the composer goes away.
    var finished = status === "resolved" || status === "closed";
    ui.composer.hidden = finished;
    ui.inputLabel.textContent = current ? t("messageLabel") : t("askLabel");
    ui.input.placeholder = current ? t("messagePlaceholder") : t("askPlaceholder");
    ui.send.textContent = current ? t("send") : t("ask");
    renderCard(finished ? status : null);
    if (!OPEN_SET[status]) hideTyping();
  }

  // `list` null: no suggestions to show; empty: none found for this question (said so, since the
  // intro promised them).
  function renderSuggestions(list) {
    var key = list === null ? "" : list.length ? list.map(function (s) { return s.id; }).join(",") : "none";
    if (ui.suggestions.getAttribute("data-key") === key) return;
    ui.suggestions.setAttribute("data-key", key);
    clear(ui.suggestions);
    ui.suggestions.hidden = list === null;
    if (list === null) return;
    if (!list.length) {
      ui.suggestions.appendChild(el("p", { class: "sugg-empty", text: t("noSuggestions") }));
      return;
    }
    ui.suggestions.appendChild(el("h3", { text: t("suggestions") }));
    list.slice(0, 3).forEach(function (s) {
      ui.suggestions.appendChild(el("article", { class: "sugg" }, [
        el("p", { class: "a", text: s.answer || "" }),
        el("button", { type: "button", class: "btn", text: t("solved"), onclick: function () { deflect(s); } })
      ]));
    });
  }

  function renderCard(status) {
    var s = load();
    var kind = null;
    if (status) {
      var rated = (s.rated || []).indexOf(current.id) >= 0;
      var skipped = (s.skipped || []).indexOf(current.id) >= 0;
      kind = current.deflected ? "deflected" : rated ? "thanks" : skipped ? "done" : "rate";
    }
    if (ui.card.getAttribute("data-kind") === kind) return;
    ui.card.setAttribute("data-kind", kind || "");
    clear(ui.card);
    ui.card.hidden = !kind;
    if (!kind) return;
    if (kind === "rate") return ratingForm(status);
    ui.card.appendChild(el("h3", { text: kind === "deflected" ? t("deflected") : kind === "done"
      ? (status === "resolved" ? t("resolved") : t("done")) : t("thanks") }));
    // The answer that solved it stays in view: the customer may still be following it.
    var helped = kind === "deflected" && (s.solvedBy || {})[current.id];
    if (helped) {
      ui.card.appendChild(el("article", { class: "sugg solved", "aria-label": t("solvedBy") }, [
        el("p", { class: "a", text: helped.answer || "" })
      ]));
    }
    ui.card.appendChild(el("button", { type: "button", class: "btn primary", text: t("another"), onclick: another }));
    if (isOpen) ui.card.querySelector("button").focus();
  }

  function scale(name, from, to, labels) {
    var items = [];
    for (var i = from; i <= to; i++) {
      items.push(el("label", null, [
        el("input", { type: "radio", name: name, value: String(i),
          "aria-label": labels ? i + " – " + labels[i - from] : String(i) }),
        el("span", { "aria-hidden": "true", text: String(i) })
      ]));
    }
    return el("div", { class: "scale" }, items);
  }

  function ratingForm(status) {
    var error = el("p", { class: "error", role: "alert", hidden: true });
    var comment = el("textarea", { id: "gigcx-comment", maxlength: "4000" });
    var form = el("form", { novalidate: true }, [
      el("h3", { text: (status === "resolved" ? t("resolved") + " " : "") + t("rateTitle") }),
      el("fieldset", null, [el("legend", { text: t("csat") }), scale("csat", 1, 5, S.csatLabels),
        el("p", { class: "hint", "aria-hidden": "true", text: "1 = " + S.csatLabels[0] + " · 5 = " + S.csatLabels[4] })]),
      el("fieldset", null, [el("legend", { text: t("nps") }), scale("nps", 0, 10),
        el("p", { class: "hint", text: t("npsLow") + " · " + t("npsHigh") })]),
      el("label", { for: "gigcx-comment", text: t("comment") }),
      comment,
      error,
      el("div", { class: "row" }, [
        el("button", { type: "submit", class: "btn primary", text: t("submit") }),
        el("button", { type: "button", class: "btn", text: t("skip"), onclick: skipRating })
      ])
    ]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var csat = form.querySelector("input[name=csat]:checked");
      var nps = form.querySelector("input[name=nps]:checked");
      if (!csat) {
        error.textContent = t("chooseCsat");
        error.hidden = false;
        form.querySelector("input[name=csat]").focus();
        return;
      }
      var data = { case_id: current.id, csat: Number(csat.value) };
      if (nps) data.nps = Number(nps.value);
      if (comment.value.trim()) data.comment = comment.value.trim();
      var id = current.id;
      call("rate", data).then(function (ack) {
        if (ack.ok || (ack.error && ack.error.code === "conflict")) {
          save(function (s) { (s.rated = s.rated || []).push(id); });
          render();
        } else {
          error.textContent = t("error");
          error.hidden = false;
        }
      });
    });
    ui.card.appendChild(form);
  }

  /* ---------------------------------------------------------------- actions */

  function confirm(resolved) {
    if (!current) return;
    call("resolve", { case_id: current.id, resolved: resolved }).then(function (ack) {
      if (ack.ok) mergeCase(ack.case);
      if (isOpen) focusFirst();
    });
  }

  // Skipping the rating keeps the conversation on screen; only "Ask another question" clears it.
  function skipRating() {
    if (!current) return;
    var id = current.id;
    save(function (s) { (s.skipped = s.skipped || []).push(id); });
    render();
  }

  function deflect(suggestion) {
    if (!current) return;
    var id = current.id;
    // Kept before asking: the `case` event that says "deflected" may come before the ack.
    save(function (s) {
      s.solvedBy = {};  // only the latest case's: the card shows no older one
      s.solvedBy[id] = { answer: suggestion.answer || "" };
    });
    call("deflect", { case_id: id }).then(function (ack) {
      if (ack.ok) {
        ack.case.deflected = true; // the ack's short case payload does not say it
        mergeCase(ack.case);
      }
      else { // an expert was faster: keep the conversation
        hideSuggestions = true;
        render();
      }
    });
  }

  function another() {
    if (current) {
      var id = current.id;
      save(function (s) { (s.dismissed = s.dismissed || []).push(id); });
    }
    reset();
    ui.input.focus();
  }

  function reset() {
    current = null;
    rendered = {};
    maxSeq = 0;
    clear(ui.log);
    pendingEls = {};
    ui.card.setAttribute("data-kind", "");
    render();
  }

  /* ---------------------------------------------------------------- integration */

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
})(io);
