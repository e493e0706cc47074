// The agent view: insert a suggested passage into the reply, copy an article link, search the knowledge base.
(function () {
  "use strict";
  var reply = document.getElementById("reply");

  function insert(title, url, passage, internal) {
    // Internal articles (SOPs, templates) are for the agent: their link means nothing to a customer.
    var block = passage.trim() + "\n" + (internal ? "" : "\n" + title + ": " + url + "\n");
    reply.value = reply.value ? reply.value.replace(/\s*$/, "") + "\n\n" + block : block;
    reply.focus();
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
        li.appendChild(a);
        if (h.audience === "internal") { var p = document.createElement("span"); p.className = "pill internal"; p.textContent = "internal"; li.appendChild(p); }
        var s = document.createElement("p"); s.className = "snippet"; s.innerHTML = h.snippet; li.appendChild(s);
        var passage = document.createElement("textarea"); passage.className = "passage"; passage.hidden = true; passage.value = h.passage; li.appendChild(passage);
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
