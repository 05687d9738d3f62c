// Node Yjs load generator for the peer servers (Hocuspocus, y-websocket),
// the same workload and measurement as Trustroom's Rust generator:
// N clients on one document, each inserting one character at a random
// place R times per second, open loop (each op has an intended send time;
// a late timer or a slow server counts against the latency), latency =
// intended send → the update's arrival at every other client.
// Percentiles are exact (every sample kept and sorted).
//
// node gen.mjs --server hocuspocus|y-websocket --url ws://127.0.0.1:PORT \
//   --clients N --rate R --secs S [--warmup W] [--drain D] [--server-pid PID]
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import * as Y from 'yjs'

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), [])
)
const kind = args.server
const url = args.url
const clients = Number(args.clients ?? 10)
const rate = Number(args.rate ?? 5)
const secs = Number(args.secs ?? 20)
const warmup = Number(args.warmup ?? 2)
const drain = Number(args.drain ?? 3)
const serverPid = args['server-pid'] ? Number(args['server-pid']) : null
const docName = 'bench'
process.setMaxListeners(0)

function procStats (pid) {
  if (!pid) return null
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = (k) => Number((status.split('\n').find((l) => l.startsWith(k)) || '0 0').split(/\s+/)[1])
    return { cpu: (Number(f[11]) + Number(f[12])) / 100, rss: kib('VmRSS:'), hwm: kib('VmHWM:') }
  } catch { return null }
}

async function makeProvider (doc) {
  if (kind === 'hocuspocus') {
    const { HocuspocusProvider, HocuspocusProviderWebsocket } = await import('@hocuspocus/provider')
    const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: WebSocket })
    const provider = new HocuspocusProvider({ websocketProvider: socket, name: docName, document: doc })
    provider.attach?.()
    return { provider, synced: () => provider.isSynced || provider.synced, destroy: () => { provider.destroy(); socket.destroy() } }
  }
  const { WebsocketProvider } = await import('y-websocket')
  const provider = new WebsocketProvider(url, docName, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
  return { provider, synced: () => provider.synced, destroy: () => provider.destroy() }
}

const sent = new Map() // `${client}:${clock}` → intended send time (ms)
const latencies = []
let sentOps = 0; let expected = 0; let received = 0
const peers = []
for (let i = 0; i < clients; i++) {
  const doc = new Y.Doc()
  const p = await makeProvider(doc)
  peers.push({ doc, text: doc.getText('t'), ...p })
}
const t0 = performance.now()
while (!peers.every((p) => p.synced())) {
  if (performance.now() - t0 > 30000) { console.error('gen: clients did not sync within 30 s'); process.exit(2) }
  await new Promise((resolve) => setTimeout(resolve, 20))
}

const start = performance.now() + 300
const measureFrom = start + warmup * 1000
const measureUntil = measureFrom + secs * 1000
const measured = (t) => t >= measureFrom && t < measureUntil

for (const p of peers) {
  p.doc.on('update', (update, origin) => {
    if (origin === 'local') return
    const now = performance.now()
    for (const s of Y.decodeUpdate(update).structs) {
      if (s.id.client === p.doc.clientID || s.constructor.name !== 'Item') continue
      for (let k = 0; k < s.length; k++) {
        const when = sent.get(`${s.id.client}:${s.id.clock + k}`)
        if (when !== undefined && measured(when)) { received++; latencies.push(now - when) }
      }
    }
  })
}

const interval = 1000 / rate
let seed = 0x9e3779b9
const random = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 4294967296 }
peers.forEach((p, i) => {
  let next = start + interval * (i / clients)
  const fire = () => {
    // Every op whose intended time has come goes out now (open loop).
    while (next <= performance.now() && next < measureUntil) {
      const intended = next
      next += interval
      const clock = Y.getState(p.doc.store, p.doc.clientID)
      sent.set(`${p.doc.clientID}:${clock}`, intended)
      const len = p.text.length
      p.doc.transact(() => p.text.insert(Math.floor(random() * (len + 1)), i % 2 ? 'é' : 'a'), 'local')
      if (measured(intended)) { sentOps++; expected += clients - 1 }
    }
    if (next < measureUntil) setTimeout(fire, Math.max(0, next - performance.now()))
  }
  setTimeout(fire, Math.max(0, next - performance.now()))
})

const before = procStats(serverPid)
await new Promise((resolve) => setTimeout(resolve, measureUntil - performance.now() + drain * 1000))
const after = procStats(serverPid)
latencies.sort((a, b) => a - b)
const q = (x) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(x * latencies.length))] : null
const lengths = new Set(peers.map((p) => p.text.length))
const round = (v) => v === null ? null : Math.round(v * 1000) / 1000
console.log(JSON.stringify({
  server: kind,
  clients,
  rooms: 1,
  rate_per_client: rate,
  seconds: secs,
  sent_ops_per_s: sentOps / secs,
  deliveries_per_s: received / secs,
  reach: expected ? received / expected : 0,
  fanout_latency_ms: { p50: round(q(0.5)), p95: round(q(0.95)), p99: round(q(0.99)), max: round(latencies.at(-1) ?? null), samples: latencies.length },
  server_cpu_seconds: before && after ? after.cpu - before.cpu : null,
  server_peak_rss_kib: after ? after.hwm : null,
  converged: lengths.size === 1,
  durability: 'none: in-memory document, no persistence extension (the peers\' best case)'
}, null, 2))
for (const p of peers) p.destroy()
process.exit(0)
