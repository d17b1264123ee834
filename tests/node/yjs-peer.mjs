// A real Yjs peer for Samen's interop tests: y-websocket's WebsocketProvider over `ws`.
//
// usage: node yjs-peer.mjs <ws-base-url> <registration-id> <name> <edits> <expected-paragraphs> <api-token>
// It syncs, appends <edits> paragraphs "<name><i>" to the `goals` section while others type,
// waits until `goals` holds <expected-paragraphs> paragraphs, then prints them as JSON.

import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [base, room, name, edits, expected, token] = process.argv.slice(2)
const doc = new Y.Doc({ gc: false })
const provider = new WebsocketProvider(base, room, doc, {
  WebSocketPolyfill: WebSocket,
  disableBc: true,
  params: { token }
})
const goals = doc.getXmlFragment('goals')

const deadline = setTimeout(() => {
  console.error(`timed out with ${goals.length} of ${expected} paragraphs`)
  process.exit(1)
}, 20000)

const paragraphs = () => goals.toArray().map((p) => p.toArray().map((t) => t.toString()).join(''))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

provider.once('sync', async () => {
  for (let i = 0; i < Number(edits); i++) {
    const p = new Y.XmlElement('paragraph')
    p.insert(0, [new Y.XmlText(`${name}${i}`)])
    goals.insert(goals.length, [p])
    await sleep(5)
  }
  while (goals.length < Number(expected)) await sleep(20)
  // Give our last updates time to leave the socket before closing.
  await sleep(200)
  clearTimeout(deadline)
  console.log(JSON.stringify(paragraphs()))
  provider.destroy()
  process.exit(0)
})
