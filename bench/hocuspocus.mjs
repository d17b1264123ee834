// Hocuspocus with its SQLite extension (persistence on), on loopback, for scripts/bench.
// usage: node hocuspocus.mjs <port> <database file>
import { Server } from '@hocuspocus/server'
import { SQLite } from '@hocuspocus/extension-sqlite'

const [port, database] = process.argv.slice(2)
const server = new Server({
  port: Number(port),
  address: '127.0.0.1',
  quiet: true,
  extensions: [new SQLite({ database })],
})
await server.listen()
console.log(`hocuspocus listening on 127.0.0.1:${port}`)
