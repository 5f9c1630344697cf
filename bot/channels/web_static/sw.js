// The web page's service worker: only so that a due reminder can be shown as a notification
// where the page itself may not create one (Android's Chrome), and a tap on it brings the
// page back. It caches nothing and sees no request: the conversation never leaves the page.
self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (e) { e.waitUntil(self.clients.claim()); });
self.addEventListener("notificationclick", function (e) {
  e.notification.close();
  e.waitUntil(self.clients.matchAll({type: "window", includeUncontrolled: true}).then(function (cs) {
    for (var i = 0; i < cs.length; i++) if ("focus" in cs[i]) return cs[i].focus();
    return self.clients.openWindow("/");
  }));
});
