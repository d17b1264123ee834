// Samen's service worker (issue 21): the app loads without a connection, so that a reload
// while offline still shows what was typed (the documents themselves are in IndexedDB, see
// src/lib/offline.ts and src/lib/sync.ts). What it does, and nothing more:
//
// - navigations to the app: the network first; without one, the last index.html;
// - /assets/*: their names carry a hash of their content, so the cache first;
// - GET answers of the API that a document page needs to render (API_PATHS): the network
//   first; without one, the last answer. They are kept per user, in `samen-api-<user id>`,
//   and only for the user the page names in the `samen-owner` cache; the page erases both
//   at logout, when someone else logs in and when the session is gone.
//
// Never: other methods (POST, PUT, PATCH, DELETE go to the network, and fail there when
// offline), the /sync WebSocket (a service worker never sees one), event streams, file
// downloads and exports, other origins.

// Names shared with src/lib/offline.ts.
const SHELL_CACHE = 'samen-shell'
const OWNER_CACHE = 'samen-owner'
const OWNER_KEY = '/samen-owner'
const API_CACHE_PREFIX = 'samen-api-'

const API_PATHS = [
  /^\/api\/(me|config|notifications|schools)$/,
  /^\/api\/registrations\/[^/]+(\/(comments|people|snapshots|files))?$/,
  /^\/api\/meetings\/[^/]+$/,
  /^\/api\/agreements\/[^/]+(\/files)?$/,
  /^\/api\/schools\/[^/]+\/registrations$/,
]
/** Answers that end the right to an earlier one (a 429 or a 503 does not). */
const GONE = [401, 403, 404, 410]
/** Paths that are not the app's pages, even when a browser navigates to them. */
const NOT_PAGES = /^\/(api|sync|healthz|readyz|metrics|sw\.js)(\/|$)/

self.addEventListener('install', (event) => {
  // The app shell now, so that the very first visit already works offline afterwards.
  event.waitUntil(keepShell().catch(() => {}).then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim())
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin) return
  if (request.mode === 'navigate') {
    if (!NOT_PAGES.test(url.pathname)) event.respondWith(page(event))
  } else if (url.pathname.startsWith('/assets/')) {
    event.respondWith(asset(request))
  } else if (API_PATHS.some((path) => path.test(url.pathname))) {
    event.respondWith(answer(event))
  }
})

/** Fetches index.html and the assets it names into the shell cache. */
async function keepShell() {
  const response = await fetch('/', { cache: 'no-cache' })
  if (!isPage(response)) return
  const html = await response.clone().text()
  await rememberPage(response)
  const cache = await caches.open(SHELL_CACHE)
  await cache.addAll([...assetsOf(html)])
}

/** The assets an index.html names (its script, styles and preloads). */
const assetsOf = (html) => new Set(html.match(/\/assets\/[^"'\s)]+/g) ?? [])

const isPage = (response) =>
  response.ok && !response.redirected && (response.headers.get('content-type') ?? '').startsWith('text/html')

/** Keeps index.html. A different one is a new release, whose assets have new names: the
 * old ones go (what it names stays; its other chunks are kept again as they are fetched). */
async function rememberPage(response) {
  const cache = await caches.open(SHELL_CACHE)
  const old = await cache.match('/')
  const html = await response.clone().text()
  if (old && (await old.text()) !== html) {
    const named = assetsOf(html)
    for (const key of await cache.keys()) {
      const path = new URL(key.url).pathname
      if (path.startsWith('/assets/') && !named.has(path)) await cache.delete(key)
    }
  }
  await cache.put('/', response)
}

async function page(event) {
  try {
    const response = await fetch(event.request)
    if (isPage(response)) event.waitUntil(rememberPage(response.clone()).catch(() => {}))
    return response
  } catch {
    // Every page of the app is the same index.html; the app reads the path.
    return (await caches.match('/', { cacheName: SHELL_CACHE })) ?? Response.error()
  }
}

async function asset(request) {
  const kept = await caches.match(request, { cacheName: SHELL_CACHE })
  if (kept) return kept
  const response = await fetch(request)
  if (response.ok) {
    const cache = await caches.open(SHELL_CACHE)
    await cache.put(request, response.clone())
  }
  return response
}

/** The user whose answers may be kept: the page writes it after /api/me, and erases it. */
async function owner() {
  const kept = await caches.match(OWNER_KEY, { cacheName: OWNER_CACHE })
  return kept ? kept.text() : null
}

async function answer(event) {
  const request = event.request
  const user = await owner()
  // Nobody known (before login, after logout): the network only, nothing kept.
  if (!user) return fetch(request)
  const name = API_CACHE_PREFIX + user
  let response
  try {
    response = await fetch(request)
  } catch (error) {
    const kept = await caches.match(request, { cacheName: name, ignoreVary: true })
    if (kept) return kept
    throw error
  }
  const json = (response.headers.get('content-type') ?? '').startsWith('application/json')
  const copy = response.status === 200 && json ? response.clone() : null
  event.waitUntil(
    (async () => {
      // Not if someone else logged in (or out) while this was under way.
      if ((await owner()) !== user) return
      const cache = await caches.open(name)
      if (copy) await cache.put(request, copy)
      // Gone or no longer allowed: its old answer goes too.
      else if (GONE.includes(response.status)) await cache.delete(request, { ignoreVary: true })
    })().catch(() => {}),
  )
  return response
}
