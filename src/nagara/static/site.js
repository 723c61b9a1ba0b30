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
  // Installable portal: the service worker keeps tracked applications readable offline.
  if ("serviceWorker" in navigator && document.documentElement.dataset.sw !== "off") {
    window.addEventListener("load", function () { navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {}); });
  }
})();
