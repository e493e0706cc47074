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
  var UNDO_MS = 10000;  // how long the undo is offered (the server takes it back for a minute)
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
  // an article's text in another language than the page's says so (screen readers switch voice, fonts fit)
  function inLanguage(node, locale) {
    if (locale && locale !== document.documentElement.lang) node.lang = locale;
    return node;
  }

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
        var link = inLanguage(el("a", "emergency-article", a.title), a.locale); link.href = a.url; link.target = "_blank";
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
      var link = inLanguage(el("a", "result-title", s.title), s.locale);
      link.href = s.url; link.target = "_blank"; link.rel = "noopener";
      link.addEventListener("click", function () { remember(opened, openedInput, s.id); });
      item.appendChild(link);
      if (s.section) item.appendChild(inLanguage(el("div", "result-meta", s.section), s.locale));
      var snippet = inLanguage(el("p", "snippet"), s.locale);
      snippet.innerHTML = s.snippet;  // server-escaped text with <mark> only
      item.appendChild(snippet);
      var solved = el("button", "solved", t.tSolved);
      solved.type = "button";
      solved.addEventListener("click", function () { deflect(s.id, s.title, s.url); });
      item.appendChild(solved);
      list.appendChild(item);
    });
    panel.appendChild(list);
  }

  function postJSON(url, body) {
    return fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) { if (!r.ok) throw new Error(r.statusText); return r.json(); });
  }

  // "This solved my problem": the form is put away (not thrown away), with a way back to the article and, for a
  // few seconds, an undo that brings the form back as it was.
  function deflect(articleId, title, url) {
    postJSON(form.dataset.deflectUrl, {article_id: articleId, query: query(), locale: form.dataset.locale,
                                       session: form.elements.session.value, shown: shown, opened: opened})
      .then(function (data) {
        var done = el("div", "deflected");
        done.id = "deflected";
        done.setAttribute("role", "status");
        done.appendChild(el("p", "", t.tDeflected));
        var line = el("p", "", t.tBack + " ");
        var back = el("a", "back-to-article", title);
        back.href = url;
        line.appendChild(back);
        done.appendChild(line);
        var undo = el("button", "undo", t.tUndo);
        undo.type = "button";
        done.appendChild(undo);
        var expiry = setTimeout(function () { undo.remove(); }, UNDO_MS);
        undo.addEventListener("click", function () {
          clearTimeout(expiry);
          postJSON(form.dataset.deflectUrl + "/" + data.id + "/undo", {session: form.elements.session.value})
            .then(function () {
              done.remove();
              form.hidden = false;
              panel.hidden = false;
              var note = el("p", "notice", t.tUndone);
              note.setAttribute("role", "status");
              form.prepend(note);
              subject.focus();
            })
            .catch(function () { undo.remove(); });
        });
        form.hidden = true;
        panel.hidden = true;
        form.after(done);
        back.focus();
      })
      .catch(function () { /* the user can still submit the form */ });
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
