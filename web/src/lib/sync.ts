// One registration's live document: a Yjs doc synced over y-websocket with Samen's
// durability acks (`?acks=1`, message type 100), so "Opgeslagen" is only shown once the
// server has stored every change.

import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import * as decoding from 'lib0/decoding'
import { api } from './api'
import { parseFindings, setFindings } from './names'

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
// and y-websocket's own backoff (at most 2.5 s) would only be refused again.
const RATE_LIMIT_PAUSE_MS = 60_000

export interface LiveDoc {
  doc: Y.Doc
  provider: WebsocketProvider
  /** Reconnects at once: what this connection may write changed (its registration was
   * closed or reopened), and a new connection gets the new rule. */
  reconnect(): void
  destroy(): void
}

/** Opens document `id` live; `onFiles` hears that the files kept with it changed (for a
 * school and LSC's agreements, whose files no school event stream carries). */
export function connectDoc(id: string, onSave: (state: SaveState) => void, onFiles?: () => void): LiveDoc {
  const doc = new Y.Doc({ gc: false })
  const base = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`
  const provider = new WebsocketProvider(base, id, doc, { params: { acks: '1' }, disableBc: true })
  let everConnected = false
  let sent = 0
  let acked = 0
  let denied = false
  let ended = false
  let limited = false
  let quota = false
  let tooLarge = false
  let pause: ReturnType<typeof setTimeout> | undefined
  let failures = 0

  const report = () => {
    if (ended) onSave('ended')
    else if (denied) onSave('denied')
    else if (quota) onSave('quota')
    else if (tooLarge) onSave('too_large')
    else if (limited) onSave('limited')
    else if (!provider.wsconnected) onSave(everConnected ? 'offline' : 'connecting')
    else if (acked < sent || !provider.synced) onSave('saving')
    else onSave('saved')
  }

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
    report()
  }
  provider.on('status', ({ status }: { status: string }) => {
    if (status === 'connected') {
      everConnected = true
      failures = 0
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
  provider.on('sync', () => report())
  provider.on('connection-close', (event: CloseEvent | null) => {
    failures += 1
    // The server closes with 1008 "access ended" when the user's right to this dossier
    // ended while it was open (logged out elsewhere, session expired, role withdrawn):
    // reconnecting would only be refused. /api/me sends the user to login if the session
    // is gone; otherwise the page says the access ended.
    if (event?.code === 1008 && event.reason.startsWith('access ended')) {
      ended = true
      provider.shouldConnect = false
      report()
      api('GET', '/api/me').catch(() => {})
      return
    }
    // Over a quota: the edits stay in this document and go with the next sync. Today's
    // storage quota does not come back by reconnecting; a rate limit does after a pause.
    if (event?.code === CLOSE_DAILY_QUOTA) {
      quota = true
      provider.shouldConnect = false
      report()
      return
    }
    // 1009: what this document sends is too large (or would cost too much) for the server
    // to take; the same sync would only be refused again, every few seconds, for ever.
    if (event?.code === CLOSE_TOO_LARGE) {
      tooLarge = true
      provider.shouldConnect = false
      report()
      return
    }
    if (event?.code === CLOSE_RATE_LIMITED) {
      limited = true
      provider.shouldConnect = false
      clearTimeout(pause)
      pause = setTimeout(() => {
        limited = false
        provider.connect()
        report()
      }, RATE_LIMIT_PAUSE_MS)
      report()
      return
    }
    report()
    // Repeated failures may mean the session expired: asking /api/me sends the user to
    // login if so (the API's 401 handler); any other answer changes nothing.
    if (failures === 3) api('GET', '/api/me').catch(() => {})
  })
  report()
  return {
    doc,
    provider,
    reconnect() {
      // An edit refused in the moment of the change is sent again under the new rule.
      denied = false
      provider.disconnect()
      provider.connect()
    },
    destroy() {
      clearTimeout(pause)
      provider.destroy()
      doc.destroy()
    },
  }
}
