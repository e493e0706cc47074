// The language switch of every public page: choosing a language reloads the page in it (without JavaScript, the
// form's submit button in <noscript> does the same GET).
(function () {
  "use strict";
  var select = document.getElementById("lang");
  if (!select || !select.form) return;
  select.addEventListener("change", function () { select.form.submit(); });
})();
