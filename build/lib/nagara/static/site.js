// Progressive enhancement only: every page works without this file.
"use strict";
(function () {
  // Upload progress for forms that carry files (the form still posts normally without JS).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload-progress")) return;
    var bar = form.querySelector("progress");
    if (!bar || !window.XMLHttpRequest || !window.FormData) return;
    event.preventDefault();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) data.append(event.submitter.name, event.submitter.value);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    bar.hidden = false;
    var label = form.querySelector("[data-progress-label]");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      bar.max = e.total; bar.value = e.loaded;
      if (label) label.textContent = Math.round((100 * e.loaded) / e.total) + "%";
    });
    xhr.addEventListener("load", function () {
      // The server answers like a normal form post: follow where it went.
      if (xhr.responseURL && xhr.responseURL !== form.action) { window.location.assign(xhr.responseURL); return; }
      document.open(); document.write(xhr.responseText); document.close();
    });
    xhr.addEventListener("error", function () { form.removeAttribute("data-upload-progress"); form.submit(); });
    xhr.send(data);
  });
  // Questions that apply only to some answers (the form's show_if): hidden until they apply.
  // Without JavaScript they stay visible, marked "if it applies", and the server ignores them.
  function valueOf(form, name) {
    var els = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (el.type === "radio") { if (el.checked) return el.value; continue; }
      if (el.type === "checkbox") return el.checked;
      if (el.type === "hidden") continue;
      if (el.value === "") return undefined;
      return el.inputMode === "numeric" || el.inputMode === "decimal" ? Number(el.value) : el.value;
    }
    return undefined;
  }
  function holds(c, form) {
    var v = valueOf(form, c.field), e = c.value;
    switch (c.op) {
      case "truthy": return !!v;
      case "falsy": return !v;
      case "eq": return v === e;
      case "ne": return v !== undefined && v !== e;
      case "in": return Array.isArray(e) && e.indexOf(v) >= 0;
      case "gt": return v > e;
      case "ge": return v >= e;
      case "lt": return v < e;
      case "le": return v <= e;
      default: return true;
    }
  }
  function refresh(form) {
    form.querySelectorAll("[data-show-if]").forEach(function (box) {
      var conditions = JSON.parse(box.getAttribute("data-show-if") || "[]");
      box.hidden = !conditions.every(function (c) { return holds(c, form); });
    });
  }
  document.querySelectorAll("form").forEach(function (form) {
    if (!form.querySelector("[data-show-if]")) return;
    refresh(form);
    form.addEventListener("change", function () { refresh(form); });
  });
  // Offline: say so, since the page is the copy the service worker kept.
  var banner = document.getElementById("offline-banner");
  function showOffline() { if (banner) banner.hidden = navigator.onLine; }
  window.addEventListener("online", showOffline);
  window.addEventListener("offline", showOffline);
  showOffline();
  // Installable portal: the service worker keeps tracked applications readable offline.
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      // On "My applications", ask for each application's page to be kept too.
      var list = document.querySelector("[data-keep-offline]");
      if (!list || !registration.active || !navigator.onLine) return;
      var paths = Array.prototype.map.call(list.querySelectorAll("a[data-track]"), function (a) { return a.getAttribute("href"); });
      registration.active.postMessage({ type: "keep", paths: paths });
    }).catch(function () {});
  }
})();
