// Hocuspocus 3 with its defaults and no persistence extension, on PORT.
import { Server } from '@hocuspocus/server'

const port = Number(process.argv[2] || 1234)
const server = new Server({ port, address: '127.0.0.1', quiet: true })
await server.listen()
console.log(`ready ${port}`)
