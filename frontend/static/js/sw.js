// The player's service worker (docs/offline.md), served as /sw.js for the whole site.
//
// It keeps the player's shell so that a reload during a network loss reopens the test instead
// of the browser's error page: the take-test page of each test the student opened, the scripts,
// style sheets and string catalog it loaded, and the (content-addressed) item media. The API is
// never stored: it always goes to the network, and the page itself keeps the student's own
// answers and prefetched items in IndexedDB (answer_queue.js, offline.js).
//
// Network first, so a page online is always the server's current one; the stored copy is used
// only when the network fails. A login page opened on this device forgets the stored pages and
// items of whoever used it before (answers not yet sent stay, tagged with their student).

const SHELL_CACHE = "cbt-shell-v1";
const MEDIA_CACHE = "cbt-media-v1";
const CACHES = [SHELL_CACHE, MEDIA_CACHE];
const PLAYER_PAGE = /^\/student\/tests\/\d+$/;
const SHELL_FILE = /^\/(static\/(js|css)\/[\w./-]+\.(js|css)|i18n\/[a-z]{2}\.json)$/;
const MEDIA_FILE = /^\/api\/v1\/media\/[0-9a-f]{64}$/;
const LOGIN_PAGE = /^\/(login|staff\/login)$/;
const PLAYER_DATABASE = "cbt-player";

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("cbt-") && !CACHES.includes(name)) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || request.method !== "GET") return;
  if (request.mode === "navigate" && LOGIN_PAGE.test(url.pathname)) {
    event.waitUntil(forgetPlayer());
    return;
  }
  if (request.mode === "navigate" && PLAYER_PAGE.test(url.pathname)) {
    event.respondWith(networkFirst(request, new Request(url.origin + url.pathname)));
  } else if (SHELL_FILE.test(url.pathname)) {
    event.respondWith(networkFirst(request, request));
  } else if (MEDIA_FILE.test(url.pathname)) {
    event.respondWith(cacheFirst(request));
  }
  // Everything else, the API above all, goes to the network untouched and is never stored.
});

// The player page, once it runs, lists what it loaded before this worker controlled it.
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "keep-shell" && Array.isArray(data.urls)) event.waitUntil(keepShell(data.urls));
  if (data.type === "keep-media" && Array.isArray(data.urls)) event.waitUntil(keepMedia(data.urls));
});

const storable = (response) => response.ok && response.type === "basic" && !response.redirected;

async function networkFirst(request, cacheKey) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const response = await fetch(request);
    if (storable(response)) await cache.put(cacheKey, response.clone());
    else if (request.mode === "navigate") await cache.delete(cacheKey); // logged out: forget it
    return response;
  } catch (error) {
    const kept = (await cache.match(cacheKey)) || (await cache.match(cacheKey, { ignoreSearch: true }));
    if (kept) return kept;
    throw error;
  }
}

// Media is addressed by its SHA-256: the bytes behind a URL never change.
async function cacheFirst(request) {
  const cache = await caches.open(MEDIA_CACHE);
  const kept = await cache.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (storable(response)) await cache.put(request, response.clone());
  return response;
}

async function keepShell(urls) {
  const cache = await caches.open(SHELL_CACHE);
  for (const href of urls) {
    const url = new URL(href, self.location.origin);
    if (url.origin !== self.location.origin) continue;
    const page = PLAYER_PAGE.test(url.pathname);
    if (!page && !SHELL_FILE.test(url.pathname)) continue;
    const key = page ? url.origin + url.pathname : url.href;
    try {
      // From the browser's HTTP cache where it has them: the page has just loaded them.
      const response = await fetch(key, { credentials: "same-origin", cache: "force-cache" });
      if (storable(response)) await cache.put(key, response);
    } catch {
      /* offline already: the next load stores it */
    }
  }
}

async function keepMedia(urls) {
  const cache = await caches.open(MEDIA_CACHE);
  for (const href of urls) {
    const url = new URL(href, self.location.origin);
    if (url.origin !== self.location.origin || !MEDIA_FILE.test(url.pathname)) continue;
    if (await cache.match(url.href)) continue;
    try {
      const response = await fetch(url.href, { credentials: "same-origin" });
      if (storable(response)) await cache.put(url.href, response);
    } catch {
      /* offline: tried again on the next prefetch */
    }
  }
}

// A new person logs in on this device: the stored test pages (which carry the last student's
// name) and prefetched items go; the outbox of unsent answers stays (offline.js).
async function forgetPlayer() {
  await caches.delete(SHELL_CACHE);
  await new Promise((resolve) => {
    const opened = indexedDB.open(PLAYER_DATABASE);
    opened.onerror = () => resolve();
    opened.onsuccess = () => {
      const database = opened.result;
      if (!database.objectStoreNames.contains("snapshots")) {
        database.close();
        resolve();
        return;
      }
      const transaction = database.transaction("snapshots", "readwrite");
      transaction.objectStore("snapshots").clear();
      transaction.oncomplete = transaction.onerror = () => {
        database.close();
        resolve();
      };
    };
    opened.onupgradeneeded = () => {
      opened.transaction.abort(); // no database yet: nothing to forget, and none is made here
    };
  });
}
