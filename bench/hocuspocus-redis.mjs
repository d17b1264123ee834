// One node of Hocuspocus on several: its Redis extension relays updates and awareness
// between the nodes, and its SQLite extension stores documents (a file per node). On
// loopback, for scripts/bench.
// usage: node hocuspocus-redis.mjs <port> <database file> <redis port>
import { Server } from '@hocuspocus/server'
import { SQLite } from '@hocuspocus/extension-sqlite'
import { Redis } from '@hocuspocus/extension-redis'

const [port, database, redisPort] = process.argv.slice(2)
const server = new Server({
  port: Number(port),
  address: '127.0.0.1',
  quiet: true,
  extensions: [new Redis({ host: '127.0.0.1', port: Number(redisPort) }), new SQLite({ database })],
})
await server.listen()
console.log(`hocuspocus (redis) listening on 127.0.0.1:${port}`)
