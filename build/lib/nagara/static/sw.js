// Nagara's service worker: the portal installs on a phone, and the citizen's tracked
// applications stay readable offline. Same-origin only; nothing is fetched from elsewhere.
"use strict";
var VERSION = "nagara-v1";
var SHELL = "shell-" + VERSION;
var PAGES = "pages-" + VERSION;
var SHELL_FILES = ["/offline", "/static/site.css", "/static/site.js", "/static/vendor/htmx.min.js", "/static/icon.svg", "/manifest.webmanifest"];
// Pages kept for offline reading: the citizen's list and each application's track page.
var KEEP = [/^\/my\/applications$/, /^\/applications\/[^/]+$/];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) { return cache.addAll(SHELL_FILES); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== SHELL && n !== PAGES; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function kept(url) {
  return url.origin === self.location.origin && KEEP.some(function (re) { return re.test(url.pathname); });
}

function remember(path, response) {
  if (response.ok && response.type === "basic" && !response.redirected) {
    var copy = response.clone();
    caches.open(PAGES).then(function (cache) { cache.put(path, copy); });
  }
  return response;
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).then(function (response) {
      return kept(url) ? remember(url.pathname, response) : response;
    }).catch(function () {
      return caches.match(url.pathname, { cacheName: PAGES }).then(function (hit) {
        return hit || caches.match("/offline", { cacheName: SHELL });
      });
    }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0 || url.pathname === "/manifest.webmanifest") {
    event.respondWith(fetch(request).catch(function () { return caches.match(url.pathname, { cacheName: SHELL }); }));
  }
});

// The "My applications" page asks for each of its applications to be kept for offline reading.
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep" || !Array.isArray(data.paths)) return;
  event.waitUntil(Promise.all(data.paths.map(function (path) {
    var url = new URL(path, self.location.origin);
    if (!kept(url)) return null;
    return fetch(url.pathname, { credentials: "same-origin" }).then(function (r) { return remember(url.pathname, r); }).catch(function () { return null; });
  })));
});
