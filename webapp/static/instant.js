// Instant search: articles suggested under every search box while the reader types (the WAI-ARIA combobox
// pattern: https://www.w3.org/WAI/ARIA/apg/patterns/combobox/). Without this script the form searches as it
// always did; with it, ↑/↓ choose a suggestion, Enter opens it (or, with none chosen, submits the search), Esc
// closes the list. A CJK input method's composition is not searched until it ends (compositionend).
(function () {
  "use strict";
  var script = document.currentScript;
  var DEBOUNCE_MS = 120;

  function text(key) { return (script && script.dataset[key]) || ""; }

  // The snippet is HTML-escaped text with <mark> around matches (kb.snippet): rebuilt from text nodes and
  // marks only, so that nothing else in it could ever become markup.
  function appendSnippet(el, html) {
    var body = new DOMParser().parseFromString("<body>" + html, "text/html").body;
    body.childNodes.forEach(function (node) {
      if (node.nodeType === 1 && node.nodeName === "MARK") {
        var mark = document.createElement("mark");
        mark.textContent = node.textContent;
        el.appendChild(mark);
      } else {
        el.appendChild(document.createTextNode(node.textContent));
      }
    });
  }

  function setup(form, n) {
    var input = form.querySelector('input[name="q"]');
    if (!input) return;
    var listId = "instant-list-" + n;
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "instant-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", text("label"));
    list.hidden = true;
    var status = document.createElement("div");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    form.classList.add("instant");
    form.appendChild(list);
    form.appendChild(status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("autocomplete", "off");

    var options = [], active = -1, timer = 0, composing = false, latest = 0, shownFor = null;
    var controller = null, cache = new Map();
    var pageLang = document.documentElement.lang || "";

    function setActive(i) {
      if (active >= 0 && options[active]) options[active].setAttribute("aria-selected", "false");
      active = i;
      if (i >= 0) {
        options[i].setAttribute("aria-selected", "true");
        input.setAttribute("aria-activedescendant", options[i].id);
        options[i].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function close() {
      setActive(-1);
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
    }

    function openList() {
      if (!options.length) return;
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function href(q, r) {
      var anchor = r.url.indexOf("#") >= 0 ? r.url.split("#")[1] : "";
      var params = new URLSearchParams({ q: q, to: r.id });
      if (anchor) params.set("anchor", decodeURIComponent(anchor));
      if (pageLang) params.set("locale", pageLang);
      return text("open") + "?" + params.toString();
    }

    function render(q, results) {
      list.textContent = "";
      options = [];
      active = -1;
      input.removeAttribute("aria-activedescendant");
      results.forEach(function (r, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.className = "instant-option";
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        if (r.locale !== pageLang) li.lang = r.locale;
        // No link inside an option (axe: nested-interactive): the option itself opens the article
        li.dataset.href = href(q, r);
        var a = document.createElement("span");
        a.className = "instant-link";
        var title = document.createElement("span");
        title.className = "instant-title";
        title.textContent = r.title;
        var meta = document.createElement("span");
        meta.className = "instant-meta";
        meta.textContent = r.category_name + (r.section ? " › " + r.section : "");
        a.appendChild(title);
        a.appendChild(meta);
        if (r.snippet) {
          var snippet = document.createElement("span");
          snippet.className = "instant-snippet";
          appendSnippet(snippet, r.snippet);
          a.appendChild(snippet);
        }
        li.appendChild(a);
        li.addEventListener("mousemove", function () { if (active !== i) setActive(i); });
        li.addEventListener("click", function () { window.location.assign(li.dataset.href); });
        list.appendChild(li);
        options.push(li);
      });
      shownFor = q;
      var count = results.length;
      status.textContent = count === 0 ? text("none") : count === 1 ? text("countOne") : text("count").replace("{n}", count);
      if (count) openList(); else close();
    }

    function fetchFor(q) {
      var seq = ++latest;
      if (cache.has(q)) { render(q, cache.get(q)); return; }
      if (controller) controller.abort();
      controller = typeof AbortController === "function" ? new AbortController() : null;
      var params = new URLSearchParams({ q: q });
      if (pageLang) params.set("locale", pageLang);
      fetch(script.dataset.api + "?" + params.toString(), {
        headers: { Accept: "application/json" }, signal: controller ? controller.signal : undefined,
      }).then(function (resp) {
        return resp.ok ? resp.json() : null;
      }).then(function (body) {
        if (!body || seq !== latest) return;  // an error (429, 400) or an answer overtaken by later typing
        if (cache.size > 100) cache.clear();
        cache.set(q, body.results);
        if (input.value.trim() === q) render(q, body.results);
      }).catch(function () { /* aborted or offline: the form still searches */ });
    }

    function schedule() {
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q) { latest++; list.textContent = ""; options = []; shownFor = null; status.textContent = ""; close(); return; }
      if (q === shownFor) { openList(); return; }
      timer = setTimeout(function () { fetchFor(q); }, DEBOUNCE_MS);
    }

    input.addEventListener("compositionstart", function () { composing = true; });
    input.addEventListener("compositionend", function () { composing = false; schedule(); });
    input.addEventListener("input", function (e) {
      if (composing || e.isComposing) return;  // the IME is still composing: compositionend searches
      schedule();
    });
    input.addEventListener("keydown", function (e) {
      if (e.isComposing || composing || e.keyCode === 229) return;  // Enter or arrows confirm the composition
      var isOpen = !list.hidden;
      if (e.key === "ArrowDown" || e.key === "Down") {
        e.preventDefault();
        if (!isOpen) { openList(); if (!list.hidden) setActive(0); return; }
        setActive(active + 1 < options.length ? active + 1 : 0);
      } else if (e.key === "ArrowUp" || e.key === "Up") {
        e.preventDefault();
        if (!isOpen) { openList(); if (!list.hidden) setActive(options.length - 1); return; }
        setActive(active > 0 ? active - 1 : options.length - 1);
      } else if (e.key === "Enter") {
        if (isOpen && active >= 0) {
          e.preventDefault();
          window.location.assign(options[active].dataset.href);
        } else {
          close();  // the form submits: the results page
        }
      } else if (e.key === "Escape" || e.key === "Esc") {
        if (isOpen) { e.preventDefault(); close(); }
      }
    });
    input.addEventListener("blur", function () { close(); });
    input.addEventListener("focus", function () { if (input.value.trim() === shownFor) openList(); });
    // A click on a suggestion must not blur the box first (the list would close before the click lands).
    list.addEventListener("mousedown", function (e) { e.preventDefault(); });
  }

  function init() {
    if (!script || !script.dataset.api || !window.fetch || !window.URLSearchParams) return;
    document.querySelectorAll('form[role="search"]').forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
