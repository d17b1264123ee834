// Hocuspocus in memory on a free loopback port, for the load generator's test of its
// Hocuspocus framing against the real server. Prints `listening on <host>:<port>`.
import { Server } from '@hocuspocus/server'

const server = new Server({ port: 0, address: '127.0.0.1', quiet: true })
await server.listen()
console.log(`listening on 127.0.0.1:${server.address.port}`)
