/**
 * An FS-like provider for tests, the demo and the benchmark: a REST API with
 * the real FS-API response shapes, and a publisher of FS notifications to a
 * RabbitMQ topic exchange, with the faults real integrations see — duplicate
 * and out-of-order notifications, notifications before the API shows the
 * change, 5xx, 429 with Retry-After, slow answers and gateway 404s (which, as
 * in production, carry no sign of coming from FS itself).
 *
 * Deterministic for a seed, so a failing run can be replayed.
 */
import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib"
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"

export interface SimulatorFaults {
  /** Chance a notification is never published (lost: only a resync finds the change). */
  readonly dropRate: number
  /** Chance a notification is published twice (same jti). */
  readonly duplicateRate: number
  /** Chance a notification is held back and published after the next one. */
  readonly reorderRate: number
  /** The API shows a change this long after its notification was published. */
  readonly apiLagMs: number
  readonly error5xxRate: number
  readonly rate429: number
  readonly retryAfterSeconds: number
  readonly slowRate: number
  readonly slowMs: number
  /** Chance of a 404 from "the gateway": no origin header, an HTML body. */
  readonly gateway404Rate: number
  /** Resources whose every request (list and fetch) answers 503: one part of the provider down. */
  readonly unavailable: ReadonlyArray<string>
}

export const NO_FAULTS: SimulatorFaults = {
  dropRate: 0, duplicateRate: 0, reorderRate: 0, apiLagMs: 0, error5xxRate: 0, rate429: 0, retryAfterSeconds: 1, slowRate: 0, slowMs: 0, gateway404Rate: 0, unavailable: []
}

export interface FsSimulatorOptions {
  readonly amqpUrl: string
  /** Topic exchange the notifications go to (declared, durable). */
  readonly exchange: string
  readonly institution?: string
  readonly environment?: string
  /** API path prefix (FS serves from the root of its host). */
  readonly basePath?: string
  readonly faults?: Partial<SimulatorFaults>
  readonly seed?: number
}

/** The header and value an origin 404 carries: configure `provider.deletion.header` with these. */
export const ORIGIN_HEADER = { name: "x-fs-origin", value: "fs-api" } as const

export interface SimulatorStats {
  readonly requests: number
  readonly byStatus: Readonly<Record<number, number>>
  readonly published: number
}

export interface FsSimulator {
  /** The API's base URL (configure `provider.baseUrl` with it). */
  readonly baseUrl: string
  readonly exchange: string
  readonly routingKey: (resource: string, operation: string) => string
  /** Create or change an entity; the API shows it after the configured lag; a notification is published. */
  readonly upsert: (resource: string, id: string, entity: unknown) => Promise<void>
  readonly remove: (resource: string, id: string) => Promise<void>
  /** Publish any bytes (poison, other formats) with a routing key. */
  readonly publishRaw: (routingKey: string, body: string | Buffer) => Promise<void>
  /** Publish held-back notifications and wait for the broker's confirms. */
  readonly flush: () => Promise<void>
  /** Every entity as it will stand once the lag has passed: "resource/id" → entity (deleted ones absent). */
  readonly finalState: () => ReadonlyMap<string, unknown>
  /** How many times "resource/id" was changed (created, updated or deleted). */
  readonly changesOf: (key: string) => number
  /** Change faults while running (e.g. none for the final convergence). */
  readonly setFaults: (faults: Partial<SimulatorFaults>) => void
  readonly stats: () => SimulatorStats
  /** Hold every object request unanswered until `resume` (a provider that hangs): fetches stay in flight. */
  readonly pause: () => void
  readonly resume: () => void
  /** How many object requests are open now (received, not yet answered nor dropped by the client). */
  readonly openRequests: () => number
  /** Every "resource/id" requested while a request for it was still open: one object fetched twice at once. */
  readonly overlapping: () => ReadonlyArray<string>
  /** What happened to "resource/id", in order, one line each (for a failing test to say): changes, and what each fetch was answered. */
  readonly trace: (key: string) => ReadonlyArray<string>
  readonly close: (options?: { readonly deleteExchange?: boolean }) => Promise<void>
}

/** mulberry32: small, fast, seedable. */
export const seededRandom = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Version {
  readonly entity: unknown | null
  readonly visibleAt: number
}

/** FS names the id field of `personer` `person_id`; the template says `{ressurs}_id`. */
const idField = (resource: string) => (resource === "personer" ? "person_id" : `${resource}_id`)

export const startFsSimulator = async (options: FsSimulatorOptions): Promise<FsSimulator> => {
  let faults: SimulatorFaults = { ...NO_FAULTS, ...options.faults }
  const random = seededRandom(options.seed ?? 1)
  const basePath = (options.basePath ?? "").replace(/\/+$/, "")
  const versions = new Map<string, Array<Version>>()
  const final = new Map<string, unknown>()
  const changeCounts = new Map<string, number>()
  const byStatus: Record<number, number> = {}
  let requests = 0, published = 0
  const open = new Map<string, number>()
  const overlapping: Array<string> = []
  const traces = new Map<string, Array<string>>()
  const traceOf = (key: string, line: string) => {
    const lines = traces.get(key) ?? []
    lines.push(`${new Date().toISOString()} ${line}`)
    traces.set(key, lines)
  }
  let paused: Array<() => void> | undefined

  const visible = (key: string, now: number): Version | undefined => {
    const list = versions.get(key)
    if (list === undefined) return undefined
    let found: Version | undefined
    for (const v of list) if (v.visibleAt <= now) found = v
    // Versions older than the visible one are never shown again.
    if (found !== undefined) {
      const idx = list.indexOf(found)
      if (idx > 0) list.splice(0, idx)
    }
    return found
  }

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    byStatus[status] = (byStatus[status] ?? 0) + 1
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers })
    res.end(body)
  }

  /** Object requests are counted while open (to see one object fetched twice at once), and held while paused. */
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://simulator")
    const path = url.pathname.startsWith(basePath) ? url.pathname.slice(basePath.length) : url.pathname
    const parts = path.split("/").filter((p) => p.length > 0).map(decodeURIComponent)
    if (req.method === "GET" && parts.length === 2) {
      const key = `${parts[0]}/${parts[1]}`
      if ((open.get(key) ?? 0) > 0) overlapping.push(key)
      open.set(key, (open.get(key) ?? 0) + 1)
      res.once("close", () => open.set(key, open.get(key)! - 1))
      if (paused !== undefined) return void paused.push(() => (res.destroyed ? undefined : respond(req, res, parts)))
    }
    respond(req, res, parts)
  }

  const respond = (req: IncomingMessage, res: ServerResponse, parts: ReadonlyArray<string>) => {
    requests++
    if (req.method !== "GET" || parts.length < 1 || parts.length > 2) return send(res, 400, JSON.stringify({ message: "expected GET /{ressurs}/{id} or /{ressurs}" }), { ...ORIGIN_HEADER_RECORD })
    if (faults.unavailable.includes(parts[0]!)) return send(res, 503, JSON.stringify({ message: "Service Unavailable" }))
    const roll = random()
    if (parts.length === 2 && roll < faults.error5xxRate + faults.rate429 + faults.gateway404Rate) traceOf(`${parts[0]}/${parts[1]}`, "answered a fault (503, 429 or a gateway's 404)")
    if (roll < faults.error5xxRate) return send(res, 503, JSON.stringify({ message: "Service Unavailable" }))
    if (roll < faults.error5xxRate + faults.rate429) return send(res, 429, JSON.stringify({ message: "Too Many Requests" }), { "retry-after": String(faults.retryAfterSeconds) })
    if (roll < faults.error5xxRate + faults.rate429 + faults.gateway404Rate) {
      byStatus[404] = (byStatus[404] ?? 0) + 1
      res.writeHead(404, { "content-type": "text/html" })
      return res.end("<html><body><h1>404 Not Found</h1>nginx</body></html>")
    }
    const answer = () => {
      const now = Date.now()
      if (parts.length === 1) {
        const resource = parts[0]!
        const items: Array<unknown> = []
        for (const key of versions.keys()) {
          if (!key.startsWith(`${resource}/`)) continue
          const v = visible(key, now)
          if (v !== undefined && v.entity !== null) items.push(v.entity)
        }
        return send(res, 200, JSON.stringify({ href: `${origin}${basePath}/${resource}`, rel: ["collection"], page: 1, limit: 0, size: items.length, items }), ORIGIN_HEADER_RECORD)
      }
      const key = `${parts[0]}/${parts[1]}`
      const v = visible(key, now)
      const shown = v === undefined || v.entity === null ? "404" : `200 (the version visible since ${new Date(v.visibleAt).toISOString()})`
      traceOf(key, `answered ${shown}${res.destroyed ? " to a client that had gone" : ""}`)
      if (v === undefined || v.entity === null) return send(res, 404, JSON.stringify({ status: 404, message: "Ressursen finnes ikke" }), ORIGIN_HEADER_RECORD)
      send(res, 200, JSON.stringify(v.entity), ORIGIN_HEADER_RECORD)
    }
    if (random() < faults.slowRate) setTimeout(answer, faults.slowMs)
    else answer()
  }

  const server = createServer(handle)
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as { port: number }).port
  const origin = `http://127.0.0.1:${port}`

  let connection: ChannelModel
  try {
    connection = await amqp.connect(options.amqpUrl)
  } catch (e) {
    server.close()
    throw new Error(`FS simulator: RabbitMQ not reachable (${(e as Error).message}); start it with 'rabbitmq-server -detached'`)
  }
  const channel: ConfirmChannel = await connection.createConfirmChannel()
  await channel.assertExchange(options.exchange, "topic", { durable: true })

  const institution = options.institution ?? "uio"
  const environment = options.environment ?? "prod"
  const routingKey = (resource: string, operation: string) => `no.${institution}.fs.FS-${environment}.${resource}.${operation}`
  let held: Array<[string, Buffer]> = []

  const publishNow = (key: string, body: Buffer) => {
    published++
    channel.publish(options.exchange, key, body, { persistent: true, contentType: "application/json" })
  }

  const notify = async (resource: string, id: string, operation: "create" | "update" | "delete") => {
    const body = Buffer.from(
      JSON.stringify({ sub: `${resource}/${id}`, iss: `FS-${environment}`, iat: String(Date.now()), operation, jti: randomUUID(), [idField(resource)]: id })
    )
    const key = routingKey(resource, operation)
    if (faults.dropRate > 0 && random() < faults.dropRate) return
    const copies = random() < faults.duplicateRate ? 2 : 1
    if (random() < faults.reorderRate) {
      held.push([key, body])
      return
    }
    for (let i = 0; i < copies; i++) publishNow(key, body)
    // Held-back notifications go out after this one: out of order.
    for (const [k, b] of held) publishNow(k, b)
    held = []
    if (published % 500 === 0) await channel.waitForConfirms()
  }

  const change = async (resource: string, id: string, entity: unknown | null) => {
    const key = `${resource}/${id}`
    const existed = final.has(key)
    changeCounts.set(key, (changeCounts.get(key) ?? 0) + 1)
    if (entity === null) final.delete(key)
    else final.set(key, entity)
    const list = versions.get(key) ?? []
    list.push({ entity, visibleAt: Date.now() + faults.apiLagMs })
    versions.set(key, list)
    traceOf(key, `${entity === null ? "deleted" : existed ? "updated" : "created"}, visible from ${new Date(list[list.length - 1]!.visibleAt).toISOString()}`)
    await notify(resource, id, entity === null ? "delete" : existed ? "update" : "create")
  }

  return {
    baseUrl: `${origin}${basePath}`,
    exchange: options.exchange,
    routingKey,
    upsert: (resource, id, entity) => change(resource, id, entity),
    remove: (resource, id) => change(resource, id, null),
    publishRaw: async (key, body) => {
      published++
      channel.publish(options.exchange, key, Buffer.isBuffer(body) ? body : Buffer.from(body), { persistent: true })
      await channel.waitForConfirms()
    },
    flush: async () => {
      for (const [k, b] of held) publishNow(k, b)
      held = []
      await channel.waitForConfirms()
    },
    finalState: () => new Map(final),
    changesOf: (key) => changeCounts.get(key) ?? 0,
    setFaults: (next) => {
      faults = { ...faults, ...next }
    },
    stats: () => ({ requests, byStatus: { ...byStatus }, published }),
    pause: () => {
      paused ??= []
    },
    resume: () => {
      const waiting = paused ?? []
      paused = undefined
      for (const answer of waiting) answer()
    },
    openRequests: () => [...open.values()].reduce((a, b) => a + b, 0),
    overlapping: () => [...overlapping],
    trace: (key) => [...(traces.get(key) ?? [])],
    close: async (closeOptions) => {
      if (closeOptions?.deleteExchange === true) await channel.deleteExchange(options.exchange).catch(() => undefined)
      await connection.close().catch(() => undefined)
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

const ORIGIN_HEADER_RECORD: Record<string, string> = { [ORIGIN_HEADER.name]: ORIGIN_HEADER.value }

// ---- Entities in FS-API shapes ------------------------------------------------------

const FORNAVN = ["Ola", "Kari", "Nils", "Ingrid", "Per", "Astrid", "Jonas", "Sigrid", "Émile", "Åse"]
const ETTERNAVN = ["Nordmann", "Hansen", "Johansen", "Olsen", "Larsen", "Berg", "Haugen", "Dahl", "Ødegård", "Aas"]

/** A `personer` item as FS-API returns it (`fields=*` shape, trimmed). */
export const fsPerson = (origin: string, id: string, version: number, random: () => number = Math.random) => {
  const fornavn = FORNAVN[Math.floor(random() * FORNAVN.length)]!
  const etternavn = ETTERNAVN[Math.floor(random() * ETTERNAVN.length)]!
  return {
    id: { href: `${origin}/personer/${id}`, personlopenummer: Number(id) },
    brukernavn: `${fornavn.slice(0, 3).toLowerCase()}${id}`,
    fornavn,
    etternavn,
    forkortetNavn: `${fornavn[0]}.${etternavn}`,
    epost: { adresse: `${fornavn.toLowerCase()}.${id}.v${version}@example.org` },
    kommuner: [{ type: "HJEM", nummer: 301, fylke: { nummer: 3 } }],
    studentgrunnlag: { kode: version % 2 === 0 ? "HELTID" : "DELTID" }
  }
}

/** A `personroller` item: `periode.fraDato`/`tilDato` give the valid time. */
export const fsPersonrolle = (origin: string, id: string, version: number, random: () => number = Math.random) => {
  const [person = id, rolle = "1"] = id.split(",")
  const year = 2018 + Math.floor(random() * 6)
  const tilDato = random() < 0.5 ? undefined : `${year + 1 + Math.floor(random() * 3)}-06-30`
  return {
    href: `${origin}/personroller/${id}`,
    person: { href: `${origin}/personer/${person}`, personlopenummer: Number(person) },
    rollenummer: Number(rolle),
    rolle: { href: `${origin}/roller/${version % 2 === 0 ? "L%C3%86RER" : "SENSOR"}` },
    periode: { fraDato: `${year}-0${1 + Math.floor(random() * 9)}-0${1 + Math.floor(random() * 9)}`, ...(tilDato ? { tilDato } : {}) },
    undervisning: { href: `${origin}/undervisning/215,ABIO6000,1,${year},H%C3%98ST,${version}` }
  }
}

export interface ChangeStreamOptions {
  readonly seed: number
  readonly changes: number
  readonly persons: number
  readonly roles: number
  /** Chance a change is part of a burst: the same object changed again at once. */
  readonly burstRate?: number
  /** Chance an existing object is deleted instead of changed. */
  readonly deleteRate?: number
  /** Pause this long after every `pauseEvery` changes, so the consumer interleaves with the stream. */
  readonly pauseEvery?: number
  readonly pauseMs?: number
}

/** A random stream of creates, updates, bursts and deletes of `personer` and `personroller`; returns every key touched. */
export const driveRandomChanges = async (sim: FsSimulator, options: ChangeStreamOptions): Promise<Set<string>> => {
  const random = seededRandom(options.seed)
  const origin = new URL(sim.baseUrl).origin
  const touched = new Set<string>()
  const versions = new Map<string, number>()
  let pending = 0
  for (let n = 0; n < options.changes; n++) {
    const isPerson = random() < options.persons / (options.persons + options.roles)
    const resource = isPerson ? "personer" : "personroller"
    const id = isPerson ? String(1000 + Math.floor(random() * options.persons)) : `${1000 + Math.floor(random() * options.persons)},${1 + Math.floor(random() * Math.max(1, options.roles / options.persons))}`
    const key = `${resource}/${id}`
    touched.add(key)
    const repeats = random() < (options.burstRate ?? 0.1) ? 3 : 1
    for (let r = 0; r < repeats; r++) {
      if (sim.finalState().has(key) && random() < (options.deleteRate ?? 0.15)) await sim.remove(resource, id)
      else {
        const version = (versions.get(key) ?? 0) + 1
        versions.set(key, version)
        await sim.upsert(resource, id, isPerson ? fsPerson(origin, id, version, random) : fsPersonrolle(origin, id, version, random))
      }
    }
    if (options.pauseEvery !== undefined && ++pending >= options.pauseEvery) {
      pending = 0
      await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 20))
    }
  }
  await sim.flush()
  return touched
}
