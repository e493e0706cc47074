// The request form: suggestions while the user types (debounced), opened articles, "this solved my problem".
(function () {
  "use strict";
  var form = document.getElementById("ticket-form");
  var panel = document.getElementById("suggestions");
  if (!form || !panel) return;
  var subject = form.querySelector("#subject");
  var description = form.querySelector("#description");
  var shownInput = form.querySelector("#shown");
  var openedInput = form.querySelector("#opened");
  var t = panel.dataset;
  var timer = null, seq = 0, lastText = "";
  var shown = JSON.parse(shownInput.value || "[]"), opened = JSON.parse(openedInput.value || "[]");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }
  function remember(list, input, id) {
    if (list.indexOf(id) < 0) { list.push(id); input.value = JSON.stringify(list); }
  }
  function query() { return (subject.value + "\n" + description.value).trim(); }

  function render(data) {
    panel.replaceChildren();
    panel.hidden = false;
    if (data.urgent && data.emergency) {
      var box = el("div", "emergency");
      box.appendChild(el("h2", "", data.emergency.title));
      var steps = el("ol");
      data.emergency.steps.forEach(function (s) { steps.appendChild(el("li", "", s)); });
      box.appendChild(steps);
      (data.emergency.articles || []).forEach(function (a) {
        var link = el("a", "emergency-article", a.title); link.href = a.url; link.target = "_blank";
        box.appendChild(link);
      });
      var human = el("button", "primary urgent-contact", t.tContact);
      human.type = "button";
      human.addEventListener("click", function () { description.focus(); form.scrollIntoView(); });
      box.appendChild(el("p", "", data.emergency.human));
      box.appendChild(human);
      panel.appendChild(box);
      return;
    }
    if (!data.suggestions.length) { panel.appendChild(el("p", "no-match", t.tNoMatch)); return; }
    panel.appendChild(el("h2", "", t.tSuggested));
    var list = el("ol", "suggestion-list");
    data.suggestions.forEach(function (s) {
      remember(shown, shownInput, s.id);
      var item = el("li", "suggestion");
      item.dataset.article = s.id;
      var link = el("a", "result-title", s.title);
      link.href = s.url; link.target = "_blank"; link.rel = "noopener";
      link.addEventListener("click", function () { remember(opened, openedInput, s.id); });
      item.appendChild(link);
      if (s.section) item.appendChild(el("div", "result-meta", s.section));
      var snippet = el("p", "snippet");
      snippet.innerHTML = s.snippet;  // server-escaped text with <mark> only
      item.appendChild(snippet);
      var solved = el("button", "solved", t.tSolved);
      solved.type = "button";
      solved.addEventListener("click", function () { deflect(s.id); });
      item.appendChild(solved);
      list.appendChild(item);
    });
    panel.appendChild(list);
  }

  function deflect(articleId) {
    fetch(form.dataset.deflectUrl, {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({article_id: articleId, query: query(), locale: form.dataset.locale,
                            session: form.elements.session.value, shown: shown, opened: opened})
    }).then(function (r) {
      if (!r.ok) throw new Error("deflection not recorded");
      var done = el("div", "deflected", t.tDeflected);
      done.id = "deflected";
      form.replaceWith(done);
      panel.hidden = true;
    }).catch(function () { /* the user can still submit the form */ });
  }

  function fetchSuggestions() {
    var text = query();
    if (text.length < 4 || text === lastText) return;
    lastText = text;
    var mine = ++seq;
    fetch(form.dataset.suggestUrl, {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({subject: subject.value, description: description.value, session: form.elements.session.value})
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && mine === seq) render(data); })
      .catch(function () {});
  }

  function schedule() { clearTimeout(timer); timer = setTimeout(fetchSuggestions, 300); }
  subject.addEventListener("input", schedule);
  description.addEventListener("input", schedule);
  if (query()) fetchSuggestions();
})();
