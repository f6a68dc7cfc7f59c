// dossier web: the page's only script (no inline script: the CSP forbids it).
(function () {
  "use strict";
  var csrf = document.body ? document.body.getAttribute("data-csrf") : "";
  // htmx requests carry the CSRF token as a header
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) { e.detail.headers["X-CSRF-Token"] = csrf; }
  });
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches && t.matches("select[data-autosubmit]")) { t.form.submit(); }
    if (t.matches && t.matches("input[type=checkbox][data-toggle]")) { toggle(t); }
    if (t.matches && t.matches("input[type=file][data-filename]")) {
      var out = document.getElementById(t.getAttribute("data-filename"));
      if (out) { out.textContent = t.files && t.files[0] ? "已选择：" + t.files[0].name : ""; }
    }
  });
  function toggle(box) {
    var el = document.getElementById(box.getAttribute("data-toggle"));
    if (el) { el.hidden = !box.checked; }
  }
  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target.closest("[data-confirm]") : null;
    if (t && !window.confirm(t.getAttribute("data-confirm"))) { e.preventDefault(); }
  });
  // one submission per click: a slow save is not sent twice
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.getAttribute("data-submitting") === "1") { e.preventDefault(); return; }
    f.setAttribute("data-submitting", "1");
    setTimeout(function () { f.removeAttribute("data-submitting"); }, 8000);
  });
  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("input[type=checkbox][data-toggle]");
    for (var i = 0; i < boxes.length; i++) { toggle(boxes[i]); }
  });
  // a page restored from the back/forward cache after logout shows nothing
  window.addEventListener("pageshow", function (e) { if (e.persisted) { window.location.reload(); } });
})();
