// The agent view: insert a suggested passage into the reply, copy an article link, search the knowledge base,
// record Used / Wrong and status changes without reloading, keep the draft in the browser until it is sent.
(function () {
  "use strict";
  var reply = document.getElementById("reply");
  var replyForm = document.getElementById("reply-form");
  var token = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9_]*)\}/g;

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token, "Accept": "application/json"},
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {ok: false, error: r.statusText}; }).then(function (data) {
        if (!r.ok) throw new Error(data.error || r.statusText);
        return data;
      });
    });
  }

  // The draft: kept in this browser per request until the reply is sent.
  var draftKey = replyForm ? "kb-draft-" + replyForm.dataset.request : null;
  function saveDraft() { if (draftKey) { try { localStorage.setItem(draftKey, reply.value); } catch (e) {} } }
  if (draftKey) {
    var kept = null;
    try { kept = localStorage.getItem(draftKey); } catch (e) {}
    if (kept !== null && kept !== reply.value && kept.trim()) reply.value = kept;
    reply.addEventListener("input", function () { saveDraft(); showPlaceholders(); });
  }

  // Placeholders left in the reply are listed, and sending them needs the checkbox.
  var box = document.getElementById("placeholders");
  function showPlaceholders() {
    if (!box) return;
    var names = [], m;
    PLACEHOLDER.lastIndex = 0;
    while ((m = PLACEHOLDER.exec(reply.value)) !== null) if (names.indexOf(m[0]) < 0) names.push(m[0]);
    box.hidden = names.length === 0;
    var list = box.querySelector(".list");
    list.replaceChildren();
    names.forEach(function (n) { var mark = document.createElement("mark"); mark.textContent = n; list.appendChild(mark); list.appendChild(document.createTextNode(" ")); });
    var confirm = box.querySelector("input[type=checkbox]");
    if (!names.length) confirm.checked = false;
  }
  showPlaceholders();

  if (replyForm) {
    var said = replyForm.querySelector(".reply-status");
    replyForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var confirm = replyForm.elements.confirm_placeholders;
      if (!box.hidden && !confirm.checked) { said.textContent = "Fill in the highlighted placeholders, or tick “send them as they are”."; confirm.focus(); return; }
      said.textContent = "Sending…";
      post(replyForm.action, {reply: reply.value, status: replyForm.elements.status.value, confirm_placeholders: confirm.checked})
        .then(function (data) {
          said.textContent = data.message;
          try { localStorage.removeItem(draftKey); } catch (err) {}
        })
        .catch(function (err) { said.textContent = "Not sent: " + err.message + " (your draft is kept)."; });
    });
  }

  // Used / Wrong: recorded without leaving the page (the draft stays as it is).
  document.querySelectorAll(".feedback-form").forEach(function (form) {
    form.querySelectorAll("button[name=verdict]").forEach(function (button) {
      button.addEventListener("click", function (e) {
        e.preventDefault();
        post(form.action, {article_id: form.elements.article_id.value, verdict: button.value}).then(function () {
          form.querySelectorAll("button[name=verdict]").forEach(function (b) {
            var chosen = b === button;
            b.classList.toggle("chosen", chosen);
            b.setAttribute("aria-pressed", chosen ? "true" : "false");
          });
        }).catch(function (err) { button.title = "Not recorded: " + err.message; });
      });
    });
  });

  // The request's own values for the placeholders (the server fills the suggestions; this fills search results).
  var values = replyForm && replyForm.dataset.values ? JSON.parse(replyForm.dataset.values) : {};
  function fillFromRequest(text) {
    return text.replace(PLACEHOLDER, function (whole, name) { return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole; });
  }

  function insert(title, url, passage, internal) {
    // Internal articles (SOPs, templates) are for the agent: their link means nothing to a customer.
    var block = passage.trim() + "\n" + (internal ? "" : "\n" + title + ": " + url + "\n");
    reply.value = reply.value ? reply.value.replace(/\s*$/, "") + "\n\n" + block : block;
    reply.focus();
    saveDraft();
    showPlaceholders();
  }
  function wire(item) {
    var title = item.querySelector(".result-title");
    var copy = item.querySelector(".copy-link");
    item.querySelector(".insert").addEventListener("click", function () {
      insert(title.textContent, new URL(copy.dataset.url, location.origin).href, item.querySelector(".passage").value, !!item.querySelector(".pill.internal"));
    });
    copy.addEventListener("click", function () {
      var url = new URL(copy.dataset.url, location.origin).href;  // a path unless KB_PUBLIC_URL is set
      if (navigator.clipboard) navigator.clipboard.writeText(url).catch(function () {});
      copy.textContent = "Copied";
    });
  }
  document.querySelectorAll(".agent-suggestions .suggestion").forEach(wire);

  var form = document.getElementById("agent-search");
  var results = document.getElementById("agent-search-results");
  if (!form) return;
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = form.elements.q.value.trim();
    if (!q) return;
    fetch(form.dataset.url + "?q=" + encodeURIComponent(q)).then(function (r) { return r.json(); }).then(function (data) {
      results.replaceChildren();
      (data.results || []).forEach(function (h) {
        var li = document.createElement("li"); li.className = "suggestion";
        var a = document.createElement("a"); a.className = "result-title"; a.href = h.url; a.target = "_blank"; a.textContent = h.title;
        if (h.locale && h.locale !== document.documentElement.lang) a.lang = h.locale;  // the article's language
        li.appendChild(a);
        if (h.audience === "internal") { var p = document.createElement("span"); p.className = "pill internal"; p.textContent = "internal"; li.appendChild(p); }
        var s = document.createElement("p"); s.className = "snippet"; s.innerHTML = h.snippet; s.lang = a.lang; li.appendChild(s);
        var passage = document.createElement("textarea"); passage.className = "passage"; passage.hidden = true; passage.value = fillFromRequest(h.passage); li.appendChild(passage);
        var actions = document.createElement("div"); actions.className = "suggestion-actions";
        var ins = document.createElement("button"); ins.type = "button"; ins.className = "insert"; ins.textContent = "Insert passage";
        var cp = document.createElement("button"); cp.type = "button"; cp.className = "copy-link"; cp.textContent = "Copy link";
        cp.dataset.url = (document.body.dataset.publicBase || "") + h.url;
        actions.appendChild(ins); actions.appendChild(cp); li.appendChild(actions);
        results.appendChild(li); wire(li);
      });
    });
  });
})();
