// One live document: a Yjs doc synced over y-websocket with Samen's durability acks
// (`?acks=1`, message type 100), so "Opgeslagen" is only shown once the server has stored
// every change.
//
// Each document is also kept in this browser (IndexedDB through y-indexeddb, one database
// per user and document: offline.ts), so a reload, a closed lid or a dropped connection
// loses nothing typed. What the server has not acknowledged goes in the sync step 2 of the
// next connection and merges like any edit. The server checks it on arrival as always; what
// it refuses is shown to its author to copy, and dropped here.

import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { IndexeddbPersistence } from 'y-indexeddb'
import * as decoding from 'lib0/decoding'
import { api } from './api'
import { reconnectDelay } from './backoff'
import { parseFindings, setFindings } from './names'
import { deleteDatabase, docDatabase, onForget, setUnsent, totalUnsent, unsentOf } from './offline'

export type SaveState =
  | 'connecting'
  | 'saved'
  | 'saving'
  | 'offline'
  | 'denied'
  | 'ended'
  | 'limited'
  | 'quota'
  | 'too_large'

/** A section's text as it stood here when the server refused an edit in it. */
export interface Refused {
  root: string
  text: string
}

/** What a page shows about its document's saving. */
export interface SaveStatus {
  state: SaveState
  /** Edits made here that the server has not acknowledged yet. */
  pending: number
  /** After `denied`: the sections the refused edits were in, for their author to copy. */
  refused: Refused[]
}

export const CONNECTING: SaveStatus = { state: 'connecting', pending: 0, refused: [] }

const MSG_AUTH = 2
const MSG_SAMEN_ACK = 100
// The name guard's findings (JSON text), whenever they change; see names.ts.
const MSG_SAMEN_NAMES = 101
// The files kept with the document changed (nothing after the type): read them again.
const MSG_SAMEN_FILES = 102
// Close codes of the server's quotas (docs/architecture.md, "Resource bounds").
const CLOSE_RATE_LIMITED = 4429
const CLOSE_DAILY_QUOTA = 4413
// A message over the server's size or cost bounds (RFC 6455's "message too big").
const CLOSE_TOO_LARGE = 1009
// How long to wait after a 4429 before reconnecting: the server's quotas are per minute,
// and a quicker reconnect would only be refused again.
const RATE_LIMIT_PAUSE_MS = 60_000
// How long a document waits for its copy in IndexedDB before it connects without one.
const COPY_TIMEOUT_MS = 5_000

export interface LiveDoc {
  doc: Y.Doc
  provider: WebsocketProvider
  /** Reconnects at once: what this connection may write changed (its registration was
   * closed or reopened), and a new connection gets the new rule. */
  reconnect(): void
  /** The page is done with it. Edits the server has not acknowledged go on being sent in
   * the background until it has (their copy in IndexedDB is kept either way). */
  destroy(): void
}

/** Every document of this tab: open on a page, or left with edits still being sent. */
interface Tracked {
  id: string
  leftBehind(): boolean
  pending(): number
  /** Whether closing the tab would lose something: edits not sent, or refused text not yet copied. */
  unsent(): boolean
  close(): void
}
const tracked = new Set<Tracked>()

/** Edits the server has not acknowledged: in this tab, or kept in this browser by any. */
export function unsentEdits(): number {
  let here = 0
  for (const doc of tracked) here += doc.pending()
  return Math.max(here, totalUnsent())
}

// The browser asks before a tab closes or reloads while it holds edits not yet sent. Only
// then: a `beforeunload` listener keeps some browsers from keeping the page in their
// back-forward cache.
const warnBeforeUnload = (event: BeforeUnloadEvent) => {
  event.preventDefault()
  event.returnValue = ''
}
let guarding = false
function guardUnload() {
  const unsent = [...tracked].some((doc) => doc.unsent())
  if (unsent === guarding) return
  guarding = unsent
  if (unsent) addEventListener('beforeunload', warnBeforeUnload)
  else removeEventListener('beforeunload', warnBeforeUnload)
}

/** The root (section) a type belongs to, by name. */
function rootName(type: Y.AbstractType<any>): string {
  let root = type
  while (root._item) root = root._item.parent as Y.AbstractType<any>
  for (const [name, value] of root.doc?.share ?? []) if (value === root) return name
  return ''
}

/** A type's text without its formatting: paragraphs and list items on lines of their own. */
function plainText(type: unknown): string {
  const lines = (types: unknown[]) => types.map(plainText).filter(Boolean).join('\n')
  if (type instanceof Y.XmlText) {
    return (type.toDelta() as { insert?: unknown }[]).map((d) => (typeof d.insert === 'string' ? d.insert : '')).join('')
  }
  if (type instanceof Y.XmlFragment) return lines(type.toArray())
  if (type instanceof Y.Text) return type.toString()
  if (type instanceof Y.Array) return lines(type.toArray())
  if (type instanceof Y.Map) return lines([...type.values()])
  return ''
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Opens document `id` live; `onFiles` hears that the files kept with it changed (for a
 * school and LSC's agreements, whose files no school event stream carries). */
export function connectDoc(id: string, onSave: (status: SaveStatus) => void, onFiles?: () => void): LiveDoc {
  // The same document left on another page and still sending gives way: its edits are in
  // IndexedDB, where this one reads them.
  for (const other of tracked) if (other.id === id && other.leftBehind()) other.close()

  const doc = new Y.Doc({ gc: false })
  const base = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`
  // Connected by us: once the copy in IndexedDB is loaded (so that the first sync step 2
  // carries what it holds), and after every close with a jittered wait (`retry`).
  const provider = new WebsocketProvider(base, id, doc, { params: { acks: '1' }, disableBc: true, connect: false })
  let everConnected = false
  let sent = 0
  let acked = 0
  let denied = false
  let ended = false
  let limited = false
  let quota = false
  let tooLarge = false
  let pause: ReturnType<typeof setTimeout> | undefined
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  /** Connections that failed since the last successful sync. */
  let attempts = 0
  let closed = false
  let leftBehind = false
  // Edits not acknowledged yet, with the roots they touched; kept over reloads (offline.ts).
  const stored = unsentOf(id)
  let pending = stored.pending
  const roots = new Set(stored.roots)
  let refused: Refused[] = []
  let persistence: IndexeddbPersistence | null = null
  let dropping: Promise<void> = Promise.resolve()

  /** The server said no for good: reconnecting would not help (until `reconnect()`). */
  const stopped = () => denied || ended || quota || tooLarge
  const mayConnect = () => !closed && !stopped() && !limited

  const state = (): SaveState => {
    if (ended) return 'ended'
    if (denied) return 'denied'
    if (quota) return 'quota'
    if (tooLarge) return 'too_large'
    if (limited) return 'limited'
    if (!provider.wsconnected) return everConnected || attempts > 0 ? 'offline' : 'connecting'
    if (acked < sent || !provider.synced) return 'saving'
    return 'saved'
  }

  function remember() {
    if (persistence) setUnsent(id, { pending, roots: [...roots] })
    guardUnload()
  }

  const report = () => {
    if (closed) return
    const now = state()
    // Everything sent was stored: nothing of ours is waiting any more.
    if (now === 'saved' && (pending > 0 || roots.size > 0 || refused.length > 0)) {
      pending = 0
      roots.clear()
      refused = []
      remember()
    }
    if (!leftBehind) onSave({ state: now, pending, refused })
    else if (now === 'saved' || stopped()) close()
  }

  /** Keeps the document in IndexedDB from now on; resolves once what was kept there is loaded. */
  async function keepCopy() {
    await dropping
    const name = docDatabase(id)
    if (closed || persistence || !name) return
    const copy = new IndexeddbPersistence(name, doc)
    persistence = copy
    const loaded = await Promise.race([copy.whenSynced.then(() => true), sleep(COPY_TIMEOUT_MS).then(() => false)])
    if (closed || persistence !== copy) return
    if (loaded) {
      remember()
    } else {
      // IndexedDB does not answer (switched off, a broken profile): work without a copy.
      persistence = null
      void copy.destroy()
    }
  }

  /** Erases the copy in IndexedDB (after a refusal: sent at every load, it would only be refused again). */
  function dropCopy() {
    const copy = persistence
    persistence = null
    setUnsent(id, null)
    if (copy) dropping = copy.destroy().then(() => deleteDatabase(copy.name))
  }

  function retry(delay: number) {
    clearTimeout(retryTimer)
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      // Even while the browser says it has no network: an attempt then fails at once, and
      // `navigator.onLine` is not always right (some VPNs and virtual networks).
      if (mayConnect()) provider.connect()
    }, delay)
  }

  // Counts the edits made here (the editor's transactions; not the server's, nor the copy's
  // loading, which are not local), and the roots they touched.
  doc.on('update', (_update: Uint8Array, _origin: unknown, _doc: Y.Doc, transaction: Y.Transaction) => {
    if (!transaction.local) return
    pending += 1
    for (const type of transaction.changed.keys()) roots.add(rootName(type))
    remember()
    // Later, not now, as for sends below: the editor is in the middle of its update.
    queueMicrotask(report)
  })

  provider.messageHandlers[MSG_SAMEN_ACK] = (_encoder, decoder) => {
    acked = decoding.readVarUint(decoder)
    report()
  }
  provider.messageHandlers[MSG_SAMEN_NAMES] = (_encoder, decoder) => {
    setFindings(doc, id, parseFindings(decoding.readVarString(decoder)))
  }
  provider.messageHandlers[MSG_SAMEN_FILES] = () => {
    onFiles?.()
  }
  provider.messageHandlers[MSG_AUTH] = (_encoder, decoder) => {
    // The server refused a change (permission-denied) and closes the connection; stop
    // reconnecting, or the refused change would be resent for ever.
    decoding.readVarUint(decoder)
    denied = true
    provider.shouldConnect = false
    if (!leftBehind) {
      // Its author sees the text of the sections it was in, to copy; the copy here goes.
      // (Left behind, nobody would see it: the copy stays, and the page shows the refusal
      // when the document is opened again.)
      refused = [...roots]
        .map((root) => ({ root, text: plainText(doc.share.get(root)) }))
        .filter((r) => r.text.trim())
      pending = 0
      dropCopy()
      guardUnload()
    }
    report()
  }
  provider.on('status', ({ status }: { status: string }) => {
    if (status === 'connected') {
      everConnected = true
      sent = 0
      acked = 0
      // Count what we send that the server acknowledges: sync step 2 and updates.
      const ws = provider.ws
      if (ws) {
        const send = ws.send.bind(ws)
        ws.send = (data: Uint8Array) => {
          const counted = data[0] === 0 && (data[1] === 1 || data[1] === 2)
          if (counted) sent += 1
          send(data)
          // Later, not now: a send can happen while the page updates (an editor that closes
          // clears its caret, which sends awareness), and the page's state may not change
          // in the middle of that. Awareness alone changes nothing to report.
          if (counted) queueMicrotask(report)
        }
      }
    }
    report()
  })
  provider.on('sync', (synced: boolean) => {
    if (synced) attempts = 0
    report()
  })
  provider.on('connection-close', (event: CloseEvent | null) => {
    // Whether the connection was meant to stay: not when we closed it (disconnect, destroy)
    // or the server refused an edit. We reconnect ourselves, after a jittered wait, so that
    // y-websocket's own timer (the same short backoff for everyone) finds nothing to do.
    const wanted = provider.shouldConnect
    provider.shouldConnect = false
    // The server closes with 1008 "access ended" when the user's right to this dossier
    // ended while it was open (logged out elsewhere, session expired, role withdrawn):
    // reconnecting would only be refused. /api/me sends the user to login if the session
    // is gone; otherwise the page says the access ended.
    if (event?.code === 1008 && event.reason.startsWith('access ended')) {
      ended = true
      report()
      api('GET', '/api/me').catch(() => {})
      return
    }
    // Over a quota: the edits stay in this document and go with the next sync. Today's
    // storage quota does not come back by reconnecting; a rate limit does after a pause.
    if (event?.code === CLOSE_DAILY_QUOTA) {
      quota = true
      report()
      return
    }
    // 1009: what this document sends is too large (or would cost too much) for the server
    // to take; the same sync would only be refused again, every few seconds, for ever.
    if (event?.code === CLOSE_TOO_LARGE) {
      tooLarge = true
      report()
      return
    }
    if (event?.code === CLOSE_RATE_LIMITED) {
      limited = true
      clearTimeout(pause)
      pause = setTimeout(() => {
        limited = false
        provider.connect()
        report()
      }, RATE_LIMIT_PAUSE_MS)
      report()
      return
    }
    if (wanted) attempts += 1
    report()
    if (!wanted || !mayConnect()) return
    // Repeated failures may mean the session expired: asking /api/me sends the user to
    // login if so (the API's 401 handler); any other answer changes nothing.
    if (attempts === 3) api('GET', '/api/me').catch(() => {})
    retry(reconnectDelay(attempts - 1))
  })

  // The browser says the network is gone: show it now, rather than when the socket notices
  // (that can take half a minute). Back: reconnect soon, still with jitter, as a whole
  // school's network coming back brings all its laptops at once.
  const wentOffline = () => {
    if (provider.ws === null) return
    provider.disconnect()
    attempts += 1
    report()
    retry(reconnectDelay(attempts - 1))
  }
  const cameOnline = () => {
    if (mayConnect() && provider.ws === null) retry(reconnectDelay(0))
  }
  addEventListener('offline', wentOffline)
  addEventListener('online', cameOnline)

  function close() {
    if (closed) return
    closed = true
    clearTimeout(pause)
    clearTimeout(retryTimer)
    removeEventListener('offline', wentOffline)
    removeEventListener('online', cameOnline)
    tracked.delete(tracker)
    forgetHook()
    provider.destroy()
    // Also closes the copy in IndexedDB (y-indexeddb listens).
    doc.destroy()
    guardUnload()
  }

  const tracker: Tracked = {
    id,
    leftBehind: () => leftBehind,
    pending: () => pending,
    unsent: () => pending > 0 || refused.length > 0,
    close,
  }
  tracked.add(tracker)
  // Logging out (or another user) erases the copies: stop writing to this one first.
  const forgetHook = onForget(async () => {
    const copy = persistence
    close()
    await copy?.destroy()
  })

  void keepCopy().then(() => {
    if (!closed) provider.connect()
  })
  report()
  return {
    doc,
    provider,
    reconnect() {
      // An edit refused in the moment of the change is sent again under the new rule, and
      // kept here again (a refusal dropped the copy).
      denied = false
      clearTimeout(retryTimer)
      void keepCopy()
      provider.disconnect()
      provider.connect()
    },
    destroy() {
      if (closed || leftBehind) return
      if (pending > 0 && !stopped()) {
        leftBehind = true
        // Gone from the page: nobody should see this person here any more.
        provider.awareness.setLocalState(null)
        report()
        return
      }
      close()
    },
  }
}
