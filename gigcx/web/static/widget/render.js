/* GigCX customer widget: what the panel shows for each case status, and the customer's actions. */

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
