// The offline copy (issue 21). Every document opened in this browser is kept in IndexedDB
// (y-indexeddb, one database per user and document, see sync.ts), and the service worker
// (public/sw.js) keeps the app and the API answers a document page needs to render. All of
// it belongs to the user logged in: it is erased at logout and when someone else logs in on
// this browser, so that nothing of one school stays readable for whoever uses the browser
// next. When the session is found gone (it expired overnight), what was only read is erased
// too, but a document with edits the server has not acknowledged is kept for its owner:
// they log in again and it is sent; if someone else logs in instead, it is erased then.
//
// localStorage says whose copy it is, which documents are kept and how many edits of each
// the server has not acknowledged yet. It is read synchronously: a document opened after a
// reload shows its count at once, and logging out asks first when edits would be lost.

const STATE_KEY = 'samen-offline'
/** Every database of a document copy starts with this; the owner's and the document's ids follow. */
const DB_PREFIX = 'samen-doc:'
/** The service worker's caches. The app shell is the same for everyone and is kept; the
 * others (the owner's id, their API answers) are the user's. Names shared with sw.js. */
const SHELL_CACHE = 'samen-shell'
const OWNER_CACHE = 'samen-owner'
const OWNER_KEY = '/samen-owner'

/** A document's edits the server has not acknowledged: how many, and the roots (sections) they touched. */
export interface Unsent {
  pending: number
  roots: string[]
}
interface OfflineState {
  owner: string | null
  docs: Record<string, Unsent>
}

function read(): OfflineState {
  try {
    const state = JSON.parse(localStorage.getItem(STATE_KEY) ?? 'null')
    if (state && typeof state === 'object' && state.docs) return state
  } catch {
    // Unreadable or no localStorage: as if nothing were kept.
  }
  return { owner: null, docs: {} }
}

function write(state: OfflineState) {
  try {
    localStorage.setItem(STATE_KEY, JSON.stringify(state))
  } catch {
    // Full or switched off: the counts are lost, the copies in IndexedDB are not.
  }
}

/** The IndexedDB database of document `doc`'s copy, or null while nobody is logged in. */
export function docDatabase(doc: string): string | null {
  const { owner } = read()
  return owner ? `${DB_PREFIX}${owner}:${doc}` : null
}

export function unsentOf(doc: string): Unsent {
  return read().docs[doc] ?? { pending: 0, roots: [] }
}

/** Records document `doc`'s unacknowledged edits; `null`: its copy is gone. */
export function setUnsent(doc: string, unsent: Unsent | null) {
  const state = read()
  if (!state.owner) return
  if (unsent) state.docs[doc] = unsent
  else delete state.docs[doc]
  write(state)
}

/** Edits on this browser the server has not acknowledged, over every document. */
export function totalUnsent(): number {
  return Object.values(read().docs).reduce((sum, unsent) => sum + unsent.pending, 0)
}

/** What must stop writing before the copies are erased (the open documents); returns the way to unregister. */
const forgetters = new Set<() => Promise<void>>()
export function onForget(forget: () => Promise<void>): () => void {
  forgetters.add(forget)
  return () => forgetters.delete(forget)
}

/** `user` is logged in: a copy of anyone else's is erased first. */
export async function adopt(user: string) {
  const state = read()
  if (state.owner !== user) {
    await clearOffline()
    write({ owner: user, docs: {} })
  }
  // The service worker keeps API answers only for the user it reads here.
  if (typeof caches !== 'undefined') {
    await caches
      .open(OWNER_CACHE)
      .then((cache) => cache.put(OWNER_KEY, new Response(user)))
      .catch(() => {})
  }
}

/** Erases what Samen keeps in this browser for a user: the document copies, the service
 * worker's caches of the user's answers, and the counts. `keepUnsent`: the session is gone,
 * not the user; their documents with unacknowledged edits stay, for them to send after
 * logging in again (`adopt` erases them if someone else logs in). */
export async function clearOffline(keepUnsent = false) {
  await Promise.all([...forgetters].map((forget) => forget()))
  const state = read()
  const kept: Record<string, Unsent> = {}
  if (keepUnsent && state.owner) {
    for (const [doc, unsent] of Object.entries(state.docs)) if (unsent.pending > 0) kept[doc] = unsent
  }
  const keptNames = new Set(Object.keys(kept).map((doc) => `${DB_PREFIX}${state.owner}:${doc}`))
  const names = new Set<string>()
  for (const doc of Object.keys(state.docs)) if (state.owner) names.add(`${DB_PREFIX}${state.owner}:${doc}`)
  // Every browser Samen supports lists its databases (Firefox since 126); the kept list
  // above covers one that does not.
  if (typeof indexedDB.databases === 'function') {
    for (const db of await indexedDB.databases().catch(() => [])) {
      if (db.name?.startsWith(DB_PREFIX)) names.add(db.name)
    }
  }
  await Promise.all([...names].filter((name) => !keptNames.has(name)).map(deleteDatabase))
  if (typeof caches !== 'undefined') {
    const keys = await caches.keys().catch(() => [])
    await Promise.all(keys.filter((key) => key.startsWith('samen-') && key !== SHELL_CACHE).map((key) => caches.delete(key)))
  }
  if (Object.keys(kept).length) {
    write({ owner: state.owner, docs: kept })
    return
  }
  try {
    localStorage.removeItem(STATE_KEY)
  } catch {
    // No localStorage: nothing was written there.
  }
}

/** Deletes an IndexedDB database. Another tab holding it open closes it when asked
 * (y-indexeddb does), and the deletion waits for that; a tab that does not answer (frozen in
 * the background) must not hold up logging out, so this stops waiting after a few seconds,
 * and the browser deletes it once that tab lets go. */
export function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name)
    request.onsuccess = () => resolve()
    request.onerror = () => resolve()
    setTimeout(resolve, 3_000)
  })
}
