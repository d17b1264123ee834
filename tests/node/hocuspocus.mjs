// Hocuspocus in memory on loopback, for the load generator's test of its Hocuspocus
// framing against the real server. usage: node hocuspocus.mjs <port>
import { Server } from '@hocuspocus/server'

const port = Number(process.argv[2])
const server = new Server({ port, address: '127.0.0.1', quiet: true })
await server.listen()
console.log(`listening on 127.0.0.1:${port}`)
