/**
 * A Datafordeler-like register for tests, the demo and benchmarks: one entity
 * of a bitemporal register that applies generated changes (creations,
 * corrections, changes of validity in the past or the future, invalidations)
 * and re-imports (every row of an object deleted and inserted again with new
 * row ids and a new `datafordelerRegisterImportSequenceNumber`, as CVR does:
 * each import — a change or a re-import — is one load package), and serves them as Datafordeler does:
 *
 *   GET /system/EventMessages/1.0.0/custom?datefrom&dateto&page&pagesize&format=json
 *       the legacy PULL service: envelopes in the real shape, `Id` rising, stamped
 *       with the registration time but visible only `commitDelayMs` later (the
 *       commit-scope delay that makes clients overlap their windows);
 *   GET /rest/{entity}?id={id}
 *       the object's full history in Datafordeler naming (current rows omit their
 *       open ends; instants with 7 fractional digits and a +01:00 offset), lagging
 *       the events by `restLagMs`;
 *   POST /graphql
 *       GraphQL over HTTP (`{query, variables}`): `<REG>_Events` (row-level i/u/d
 *       events with an increasing eventid, `where: {eventid: {gt, lte}}`, Relay
 *       `pageInfo`), `DAF_RegisterImportStatus` (lastEventId of the imports that
 *       are complete), and `<REG>_<Entity>` rows by `$id`, `$ids` or paged by
 *       `$first`/`$after` (the whole entity). An import takes `importMs`: its
 *       deletes are visible at once, its inserts (and the data) when it
 *       completes — a re-import's rows come back in the data one by one while
 *       it runs — what the import-status gate protects a reader from.
 *   GET /FileDownloads/GetFile
 *       the register's file download (a zip holding `{"<Entity>List": [rows]}`),
 *       as the platform generates it daily or weekly: a snapshot of the rows
 *       when `generateDownload` was last called, while events go on after it.
 *
 * It can PUSH each envelope, once visible, to an OData receiver (`/Events` or
 * `/$batch`), and require credentials (an API key; OAuth client credentials at
 * `POST /oauth/token` with expiring bearer tokens for GraphQL). Faults: 5xx answers, slow answers, answers cut off half-way.
 * Deterministic for a seed.
 */
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { request } from "undici"
import { zipBytes } from "../../../ingest/ZipWrite.js"
import { type Bound, fromEpochMillis, type Instant, parseInstant, toEpochMillis } from "../../../domain/core/Instant.js"
import { canonicalJson, type Operation } from "../../../domain/core/Operation.js"
import { planOperation } from "../../../domain/core/Plan.js"
import { seededRandom } from "../../intark/simulator/FsSimulator.js"

export interface DafFaults {
  readonly error5xxRate: number
  /** REST shows a change this long after it was registered. */
  readonly restLagMs: number
  /** An event becomes visible in PULL this long after its timestamp. */
  readonly commitDelayMs: number
  /** Answers cut off half-way (the connection destroyed). */
  readonly truncateRate: number
  readonly slowRate: number
  readonly slowMs: number
  /** How long an import takes (GraphQL: inserts and data appear when it completes). */
  readonly importMs: number
}

export interface DafRow {
  readonly id: number
  /** Datafordeler's row id: new when a re-import inserts the row again. */
  rowId: string
  readonly registreringFra: Instant
  registreringTil: Bound
  readonly virkningFra: Bound
  readonly virkningTil: Bound
  readonly data: Record<string, unknown>
  /** The import (load package) that wrote the row, and the one that closed it: the platform's bookkeeping. */
  importSeq: number
  closeImportSeq: number
  /** When the row was written (inserted, or inserted again by a re-import); its close is a later write. */
  writtenAt: Instant
  /** When REST shows the row (and its close). */
  visibleAt: number
  closeVisibleAt: number
}

interface RowEvent {
  readonly eventid: number
  readonly action: "i" | "u" | "d"
  readonly objectId: string
  readonly rowId: string
  readonly at: Instant
  readonly importSeq: number
  /** Repeats an event of an import that failed (the data unchanged). */
  readonly failed?: boolean
  /** When the event shows in `<REG>_Events`, and when its import is complete. */
  readonly visibleAt: number
  readonly completeAt: number
}

export interface DafSimulator {
  readonly baseUrl: string
  readonly graphqlUrl: string
  readonly register: string
  readonly entity: string
  /** The register's rows of an object, as REST will show them once the lag has passed. */
  readonly rows: (objectId: string) => ReadonlyArray<DafRow>
  readonly ids: () => ReadonlyArray<string>
  /** Apply `n` random changes, one registration instant each (strictly increasing). */
  readonly randomChanges: (n: number) => void
  /** Change each of these objects once (a random change of its data or validity). */
  readonly change: (objectIds: ReadonlyArray<string>) => void
  /** Invalidate each of these objects over all of its validity: its current rows closed, none inserted (row events `u` only). */
  readonly invalidate: (objectIds: ReadonlyArray<string>) => void
  /** Delete and insert again every row of `n` random objects (new row ids, same content). */
  readonly reimports: (n: number) => void
  /** Re-import these objects (taking `importMs`, as any import). */
  readonly reimport: (objectIds: ReadonlyArray<string>) => void
  /** An import of these objects that failed: `fromfailedimport` events naming their rows, complete at once, the data unchanged. */
  readonly failedImport: (objectIds: ReadonlyArray<string>) => void
  /** Generate the file download now: a snapshot of the rows as REST shows them, served until generated again. */
  readonly generateDownload: () => void
  /** The file download's URL (404 until one is generated). */
  readonly downloadUrl: string
  readonly events: () => number
  readonly rowEvents: () => number
  /** Drop the GraphQL events up to this eventid, as the service drops events older than it keeps. */
  readonly forgetRowEvents: (upTo: number) => void
  readonly setFaults: (faults: Partial<DafFaults>) => void
  /**
   * From now on a JSON PULL page of more than `afterEvents` events sends its first `afterEvents` and holds
   * the rest until `release` (which ends the hold for later pages too). `held`: pages waiting now.
   */
  readonly holdPull: (afterEvents: number) => { readonly held: () => number; readonly release: () => void }
  /** PUSH every envelope, once visible, to an OData receiver's base URL (one per request, or `batch` per request). */
  readonly pushTo: (baseUrl: string, options?: { readonly batch?: number; readonly duplicateRate?: number }) => void
  readonly pushed: () => number
  /** Pages of the whole entity served (full loads). */
  readonly listRequests: () => number
  /** OAuth tokens issued. */
  readonly tokenRequests: () => number
  /** Requests received so far, by service (every request, whatever it was answered): what a client costs the register. */
  readonly requests: () => DafRequestCounts
  readonly close: () => Promise<void>
}

export interface DafRequestCounts {
  readonly pull: number
  readonly rest: number
  readonly graphql: number
  /** Of the GraphQL requests, those asking for rows (`<REG>_<Entity>`): the data fetches, not the event polls. */
  readonly graphqlRows: number
  readonly other: number
}

const DAY = 86_400_000

/** Datafordeler's way of writing an instant: local offset, 7 fractional digits. */
export const dafInstant = (i: Instant): string => {
  const local = fromEpochMillis(toEpochMillis(i) + 3_600_000)
  return `${local.slice(0, 19)}.${i.slice(20, 26)}0+01:00`
}

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** A JSON value as XML elements, the way the service serialises its messages: arrays as repeated elements. */
const toXml = (value: unknown): string => {
  if (value === null || value === undefined) return ""
  if (typeof value !== "object") return escapeXml(String(value))
  return Object.entries(value as Record<string, unknown>)
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((item) => [k, item] as const) : [[k, v] as const]))
    .map(([k, v]) => `<${k}>${toXml(v)}</${k}>`)
    .join("")
}

export const startDafSimulator = async (options: {
  readonly seed?: number
  readonly entity?: string
  readonly register?: string
  readonly faults?: Partial<DafFaults>
  /** Events carry the rows they changed (Beskeddata[].Objektdata), as MAT's and EBR's do. */
  readonly inlineRows?: boolean
  /** Require an API key, and/or OAuth bearer tokens for GraphQL (issued at /oauth/token for this client). */
  readonly credentials?: { readonly apiKey?: string; readonly oauth?: { readonly clientId: string; readonly clientSecret: string; readonly expiresInSeconds: number } }
}): Promise<DafSimulator> => {
  const entity = options.entity ?? "Adresse"
  const register = options.register ?? "DAR"
  let faults: DafFaults = { error5xxRate: 0, restLagMs: 0, commitDelayMs: 0, truncateRate: 0, slowRate: 0, slowMs: 0, importMs: 0, ...options.faults }
  const random = seededRandom(options.seed ?? 1)
  const objects = new Map<string, Array<DafRow>>()
  // Each envelope is serialised once, when it is made: serving a 100,000-event page is then a join.
  const events: Array<{ id: number; timestamp: Instant; visibleAt: number; json: string }> = []
  const rowEvents: Array<RowEvent> = []
  let nextRow = 1, nextEvent = 219_585_000, nextRowEvent = 1, lastUs = 0, listRequests = 0
  // Load packages are numbered apart from eventids (the real numbers do not rise with them).
  let nextImport = 309_826

  /** A registration instant after every earlier one (microseconds apart at least), close to now. */
  const registrationNow = (): Instant => {
    const us = Math.max(Date.now() * 1000 + Math.floor(random() * 1000), lastUs + 1)
    lastUs = us
    return fromEpochMillis(us / 1000)
  }

  const rowEvent = (action: RowEvent["action"], objectId: string, rowId: string, at: Instant, importSeq: number, visibleAt: number, completeAt: number) =>
    rowEvents.push({ eventid: nextRowEvent++, action, objectId, rowId, at, importSeq, visibleAt, completeAt })

  const apply = (objectId: string, op: Operation) => {
    const rows = objects.get(objectId) ?? []
    const current = rows.filter((r) => r.registreringTil === null).map((r) => ({ id: r.id, virkningFra: r.virkningFra, virkningTil: r.virkningTil, data: canonicalJson(r.data) }))
    const plan = planOperation(current, op)
    if (plan._tag === "Unchanged") return false
    const now = Date.now()
    const completeAt = now + faults.importMs
    const importSeq = nextImport++
    // The data shows an import once it is complete, and REST lags on top.
    const visibleAt = Math.max(now + faults.restLagMs, completeAt)
    const touched: Array<DafRow> = []
    for (const id of plan.close) {
      const row = rows.find((r) => r.id === id)!
      row.registreringTil = op.registreringstid
      row.closeVisibleAt = visibleAt
      row.closeImportSeq = importSeq
      touched.push(row)
      rowEvent("u", objectId, row.rowId, op.registreringstid, importSeq, completeAt, completeAt)
    }
    for (const n of plan.insert) {
      const row: DafRow = { id: nextRow++, rowId: randomUUID(), registreringFra: op.registreringstid, registreringTil: null, virkningFra: n.virkningFra, virkningTil: n.virkningTil, data: JSON.parse(n.data) as Record<string, unknown>, importSeq, closeImportSeq: importSeq, writtenAt: op.registreringstid, visibleAt, closeVisibleAt: Infinity }
      rows.push(row)
      touched.push(row)
      rowEvent("i", objectId, row.rowId, op.registreringstid, importSeq, completeAt, completeAt)
    }
    objects.set(objectId, rows)
    const created = current.length === 0
    const id = nextEvent++
    const body = {
      beskedversion: "1.0",
      beskedID: randomUUID(),
      Beskedkuvert: {
        Filtreringsdata: {
          beskedtype: `${entity}${created ? "Create" : "Update"}`,
          Objektregistrering: [{ registreringsaktør: "DAR", registreringstid: dafInstant(op.registreringstid), status: "3", objektID: objectId, objekttype: entity }]
        },
        Leveranceinformation: { dannelsestidspunkt: dafInstant(op.registreringstid) }
      },
      Beskeddata: options.inlineRows === true ? touched.map((r) => ({ Objektdata: restRow(r, Infinity) })) : [{ Objektreference: { objektreference: objectId } }]
    }
    const timestamp = `${op.registreringstid.slice(0, 26)}Z`
    events.push({
      id,
      timestamp: op.registreringstid,
      visibleAt: now + faults.commitDelayMs,
      json: JSON.stringify({ Id: id, Message: { Grunddatabesked: { Hændelsesbesked: body } }, Format: "Json", Timestamp: timestamp })
    })
    return true
  }

  /**
   * Every row deleted and inserted again with a new row id: the data is unchanged once the import completes.
   * The import writes the register's current rows, so an earlier change still lagging shows with them (at
   * `back`, not later): the data service shows an object's writes in order, as a lagging replica would.
   */
  const reimport = (objectId: string) => {
    const rows = objects.get(objectId) ?? []
    const now = Date.now()
    const completeAt = now + faults.importMs
    const at = registrationNow()
    const importSeq = nextImport++
    for (const row of rows) rowEvent("d", objectId, row.rowId, at, importSeq, now, completeAt)
    // Gone while the import runs, then back (with new ids) one by one as it inserts them — newest first — the
    // last when it completes: half-way, the data shows the object's newest rows without its older ones.
    const newestFirst = [...rows].reverse()
    newestFirst.forEach((row, i) => {
      const back = now + Math.round(((i + 1) / newestFirst.length) * faults.importMs)
      row.rowId = randomUUID()
      row.importSeq = importSeq
      row.closeImportSeq = importSeq
      row.writtenAt = at
      row.visibleAt = back
      if (row.registreringTil !== null) row.closeVisibleAt = back
      rowEvent("i", objectId, row.rowId, at, importSeq, completeAt, completeAt)
    })
  }

  /** A random change: a new object, or a change of an existing one (`of`, when given). */
  const randomChange = (of?: string) => {
    const ids = of === undefined ? [...objects.keys()] : [of]
    const r = registrationNow()
    const rMs = Math.floor(lastUs / 1000)
    const name = () => `${["Åbakke", "Grøndal Allé", "Vestergade", "Østerbro", "Søndre Vej"][Math.floor(random() * 5)]} ${1 + Math.floor(random() * 99)}`
    if (ids.length === 0 || (of === undefined && random() < 0.25)) {
      const id = randomUUID()
      apply(id, { op: "assert", objectType: entity, objectId: id, registreringstid: r, virkningFra: fromEpochMillis(rMs - Math.floor(random() * 400) * DAY), virkningTil: null, data: canonicalJson({ id_lokalId: id, status: "3", adressebetegnelse: name() }), eventId: "" })
      return
    }
    const id = ids[Math.floor(random() * ids.length)]!
    const roll = random()
    // A change from a day in the past or, sometimes, the future (an activation waits for it).
    const from = fromEpochMillis(rMs + (roll < 0.2 ? 1 + Math.floor(random() * 30) : -Math.floor(random() * 200)) * DAY)
    if (roll < 0.85) apply(id, { op: "assert", objectType: entity, objectId: id, registreringstid: r, virkningFra: roll < 0.6 ? from : null, virkningTil: null, data: canonicalJson({ id_lokalId: id, status: "3", adressebetegnelse: name() }), eventId: "" })
    else apply(id, { op: "retract", objectType: entity, objectId: id, registreringstid: r, virkningFra: from, virkningTil: null, eventId: "" })
  }

  const restRow = (row: DafRow, now: number): Record<string, unknown> => {
    const closed = row.registreringTil !== null && row.closeVisibleAt <= now
    // datafordelerOpdateringstid: the row's last write that the answer shows.
    const updated = closed && row.registreringTil! > row.writtenAt ? row.registreringTil! : row.writtenAt
    return {
    ...row.data,
    registreringFra: dafInstant(row.registreringFra),
    ...(closed ? { registreringTil: dafInstant(row.registreringTil!) } : {}),
    ...(row.virkningFra !== null ? { virkningFra: dafInstant(row.virkningFra) } : {}),
    ...(row.virkningTil !== null ? { virkningTil: dafInstant(row.virkningTil) } : {}),
    datafordelerRowId: row.rowId,
    datafordelerOpdateringstid: dafInstant(updated),
    datafordelerRegisterImportSequenceNumber: closed ? row.closeImportSeq : row.importSeq
    }
  }

  const visibleRows = (id: string, now: number) => (objects.get(id) ?? []).filter((r) => r.visibleAt <= now).map((r) => restRow(r, now))

  /** Send a body, unless a fault cuts it off half-way. */
  let pullHold: { readonly after: number; held: number; readonly released: Promise<void>; readonly release: () => void } | undefined
  const holdPull = (after: number) => {
    let release = () => {}
    const released = new Promise<void>((r) => (release = r))
    const hold = { after, held: 0, released, release: () => {
      if (pullHold === hold) pullHold = undefined
      release()
    } }
    pullHold = hold
    return { held: () => hold.held, release: hold.release }
  }
  /** A page's first events now, the rest once the hold is released. */
  const writeHeld = (res: ServerResponse, hold: NonNullable<typeof pullHold>, slice: ReadonlyArray<{ json: string }>) => {
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" })
    res.write(`[${slice.slice(0, hold.after).map((e) => e.json).join(",")},`)
    hold.held++
    void hold.released.then(() => {
      hold.held--
      res.end(`${slice.slice(hold.after).map((e) => e.json).join(",")}]`)
    })
  }

  const write = (res: ServerResponse, status: number, contentType: string, body: string) => {
    res.writeHead(status, { "content-type": contentType })
    if (status === 200 && random() < faults.truncateRate) {
      res.write(body.slice(0, Math.floor(body.length / 2)))
      res.destroy()
      return
    }
    res.end(body)
  }
  const send = (res: ServerResponse, status: number, body: unknown) => write(res, status, "application/json; charset=utf-8", JSON.stringify(body))

  /** The XML twin of an envelope (made when asked: XML pages are the rarer case). */
  const xmlEnvelope = (e: { json: string }) => {
    const { Id, Message, Timestamp } = JSON.parse(e.json) as { Id: number; Message: unknown; Timestamp: string }
    return `<Envelope><Id>${Id}</Id><Message>${toXml(Message)}</Message><Format>Xml</Format><Timestamp>${Timestamp}</Timestamp></Envelope>`
  }

  // ---- GraphQL ----------------------------------------------------------------

  const importStatus = (now: number) => {
    let last = 0
    for (const e of rowEvents) if (e.completeAt <= now) last = e.eventid
    return { lastEventId: last, lastSequenceNumber: last, lastUpdated: `${fromEpochMillis(now).slice(0, 26)}Z` }
  }

  const eventsPage = (query: string, vars: Record<string, unknown>, now: number) => {
    const first = Number(vars.first ?? 1000)
    const gt = Number(vars.gt ?? vars.after ?? 0)
    const lte = vars.lte === undefined || vars.lte === null ? Infinity : Number(vars.lte)
    const only = /entityname\s*:\s*\{\s*in\s*:\s*\[([^\]]*)\]/.exec(query)?.[1]
    if (only !== undefined && !only.includes(`"${entity}"`)) return { pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] }
    // `datafordelerOpdateringstid: { gte: $var }`: events stamped at or after an instant.
    const sinceVar = /datafordelerOpdateringstid\s*:\s*\{\s*gte\s*:\s*\$(\w+)/.exec(query)?.[1]
    const since = sinceVar === undefined ? undefined : parseInstant(String(vars[sinceVar] ?? ""))
    if (typeof since === "object") throw new Error(`$${sinceVar} is not a DateTime: ${since.error}`)
    const nodes: Array<Record<string, unknown>> = []
    let more = false
    for (const e of rowEvents) {
      if (e.eventid <= gt || e.eventid > lte) continue
      if (since !== undefined && e.at < since) continue
      // Events past one not yet visible wait for it: the feed is in eventid order.
      if (e.visibleAt > now) break
      if (nodes.length === first) {
        more = true
        break
      }
      nodes.push({
        eventid: e.eventid,
        entityname: entity,
        eventaction: e.action,
        fromfailedimport: e.failed === true,
        object_id: e.objectId,
        object_datafordelerRowId: e.rowId,
        datafordelerOpdateringstid: `${e.at.slice(0, 26)}Z`,
        datafordelerRegisterImportSequenceNumber: e.importSeq
      })
    }
    const last = nodes[nodes.length - 1]?.eventid
    return { pageInfo: { hasNextPage: more, endCursor: last === undefined ? null : String(last) }, nodes }
  }

  const entityRows = (vars: Record<string, unknown>, now: number) => {
    if (typeof vars.id === "string") return { pageInfo: { hasNextPage: false, endCursor: null }, nodes: visibleRows(vars.id, now) }
    if (Array.isArray(vars.ids)) return { pageInfo: { hasNextPage: false, endCursor: null }, nodes: vars.ids.flatMap((id) => visibleRows(String(id), now)) }
    // The whole entity, paged by object.
    listRequests++
    const ids = [...objects.keys()].sort()
    const first = Number(vars.first ?? 1000)
    const from = typeof vars.after === "string" ? ids.findIndex((i) => i > (vars.after as string)) : 0
    const slice = from < 0 ? [] : ids.slice(from, from + first)
    const more = from >= 0 && from + first < ids.length
    return { pageInfo: { hasNextPage: more, endCursor: slice[slice.length - 1] ?? null }, nodes: slice.flatMap((id) => visibleRows(id, now)) }
  }

  const graphql = (body: string, res: ServerResponse) => {
    let req: { query?: unknown; variables?: unknown }
    try {
      req = JSON.parse(body) as typeof req
    } catch {
      return send(res, 400, { errors: [{ message: "the request body is not JSON" }] })
    }
    if (typeof req.query !== "string") return send(res, 400, { errors: [{ message: "no query" }] })
    const vars = (req.variables ?? {}) as Record<string, unknown>
    const now = Date.now()
    const data: Record<string, unknown> = {}
    if (req.query.includes("DAF_RegisterImportStatus")) data.DAF_RegisterImportStatus = importStatus(now)
    try {
      if (req.query.includes(`${register}_Events`)) data[`${register}_Events`] = eventsPage(req.query, vars, now)
    } catch (e) {
      return send(res, 200, { errors: [{ message: (e as Error).message }] })
    }
    if (new RegExp(`\\b${register}_${entity}\\b`).test(req.query)) {
      counts.graphqlRows++
      const rows = entityRows(vars, now)
      // Only what the query selects is answered: a query without pageInfo gets no paging.
      data[`${register}_${entity}`] = /\bpageInfo\b/.test(req.query) ? rows : { nodes: rows.nodes }
    }
    if (Object.keys(data).length === 0) return send(res, 200, { errors: [{ message: `The field is not known here: the simulator serves DAF_RegisterImportStatus, ${register}_Events and ${register}_${entity}` }] })
    send(res, 200, { data })
  }

  // ---- HTTP -------------------------------------------------------------------

  // Credentials, when asked for: an API key (the `apiKey` parameter) on every data service, and/or
  // OAuth client credentials (POST /oauth/token) whose bearer tokens GraphQL requires.
  const issued = new Map<string, number>()
  let tokenRequests = 0
  const token = (body: string, res: ServerResponse) => {
    const form = new URLSearchParams(body)
    const oauth = options.credentials?.oauth
    if (oauth === undefined || form.get("grant_type") !== "client_credentials" || form.get("client_id") !== oauth.clientId || form.get("client_secret") !== oauth.clientSecret) {
      return send(res, 401, { error: "invalid_client" })
    }
    tokenRequests++
    const value = randomUUID()
    issued.set(value, Date.now() + oauth.expiresInSeconds * 1000)
    send(res, 200, { access_token: value, token_type: "Bearer", expires_in: oauth.expiresInSeconds })
  }
  const refused = (req: IncomingMessage, url: URL): string | undefined => {
    const apiKey = options.credentials?.apiKey
    if (apiKey !== undefined && url.searchParams.get("apiKey") !== apiKey) return "a valid apiKey is required"
    if (options.credentials?.oauth !== undefined && url.pathname === "/graphql") {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1]
      const until = bearer === undefined ? undefined : issued.get(bearer)
      if (until === undefined || until < Date.now()) return "a valid bearer token is required"
    }
    return undefined
  }

  let download: Buffer | undefined
  const generateDownload = () => {
    const now = Date.now()
    const rows = [...objects.keys()].flatMap((id) => visibleRows(id, now))
    download = zipBytes([{ name: `${register}_Totaludtraek_1.json`, data: Buffer.from(JSON.stringify({ [`${entity}List`]: rows }), "utf8"), level: 6 }])
  }

  const counts = { pull: 0, rest: 0, graphql: 0, graphqlRows: 0, other: 0 }
  const count = (path: string) => {
    if (path === "/system/EventMessages/1.0.0/custom") counts.pull++
    else if (path.startsWith("/rest/")) counts.rest++
    else if (path === "/graphql") counts.graphql++
    else counts.other++
  }

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const url = new URL(req.url ?? "/", "http://simulator")
    count(url.pathname)
    if (url.pathname === "/oauth/token" && req.method === "POST") return token(body, res)
    const denied = refused(req, url)
    if (denied !== undefined) return send(res, 401, { message: denied })
    if (random() < faults.error5xxRate) return send(res, 503, { message: "Service Unavailable" })
    const now = Date.now()
    if (url.pathname === "/graphql" && req.method === "POST") return graphql(body, res)
    if (url.pathname === "/system/EventMessages/1.0.0/custom") {
      const from = parseInstant(url.searchParams.get("datefrom") ?? "")
      const to = parseInstant(url.searchParams.get("dateto") ?? "")
      const page = Number(url.searchParams.get("page") ?? "1")
      const pageSize = Number(url.searchParams.get("pagesize") ?? "1000")
      if (typeof from !== "string" || typeof to !== "string" || !(page >= 1) || !(pageSize >= 1 && pageSize <= 100_000)) {
        return send(res, 400, { message: "datefrom, dateto, page and pagesize (1–100000) are required" })
      }
      const matching = events.filter((e) => e.timestamp >= from && e.timestamp < to && e.visibleAt <= now)
      const slice = matching.slice((page - 1) * pageSize, page * pageSize)
      if (url.searchParams.get("format") === "xml") {
        return write(res, 200, "application/xml; charset=utf-8", `<?xml version="1.0" encoding="utf-8"?><ArrayOfEnvelope xmlns:i="http://www.w3.org/2001/XMLSchema-instance">${slice.map(xmlEnvelope).join("")}</ArrayOfEnvelope>`)
      }
      if (pullHold !== undefined && slice.length > pullHold.after) return writeHeld(res, pullHold, slice)
      return write(res, 200, "application/json; charset=utf-8", `[${slice.map((e) => e.json).join(",")}]`)
    }
    if (url.pathname === `/rest/${entity.toLowerCase()}`) return send(res, 200, visibleRows(url.searchParams.get("id") ?? "", now))
    if (url.pathname === "/FileDownloads/GetFile") {
      if (download === undefined) return send(res, 404, { message: "no file download has been generated yet" })
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": download.length })
      return void res.end(download)
    }
    send(res, 404, { message: "no such endpoint" })
  }

  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8")
      if (faults.slowMs > 0 && random() < faults.slowRate) setTimeout(() => handle(req, res, body), faults.slowMs)
      else handle(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`

  // ---- PUSH -------------------------------------------------------------------

  let pushTimer: NodeJS.Timeout | undefined
  let pushedCount = 0
  const pushTo = (target: string, pushOptions: { readonly batch?: number; readonly duplicateRate?: number } = {}) => {
    let next = 0
    let busy = false
    const base = target.replace(/\/+$/, "")
    const batchBody = (jsons: ReadonlyArray<string>) => {
      const boundary = `batch_${randomUUID()}`, changeset = `changeset_${randomUUID()}`
      const ops = jsons.map((json, i) => [`--${changeset}`, "Content-Type: application/http", "Content-Transfer-Encoding: binary", `Content-ID: ${i + 1}`, "", "POST Events HTTP/1.1", "Content-Type: application/json", "", json].join("\r\n"))
      const body = [`--${boundary}`, `Content-Type: multipart/mixed; boundary=${changeset}`, "", ...ops, `--${changeset}--`, `--${boundary}--`, ""].join("\r\n")
      return { body, contentType: `multipart/mixed; boundary=${boundary}` }
    }
    const tick = async () => {
      if (busy) return
      busy = true
      try {
        const now = Date.now()
        while (next < events.length && events[next]!.visibleAt <= now) {
          const size = pushOptions.batch ?? 1
          const slice = events.slice(next, next + size).filter((e) => e.visibleAt <= now)
          const jsons = slice.map((e) => e.json)
          if (random() < (pushOptions.duplicateRate ?? 0)) jsons.push(jsons[0]!)
          const { body, contentType } = size === 1 && jsons.length === 1 ? { body: jsons[0]!, contentType: "application/json" } : batchBody(jsons)
          const res = await request(`${base}/${size === 1 && jsons.length === 1 ? "Events" : "$batch"}`, { method: "POST", headers: { "content-type": contentType }, body }).catch(() => undefined)
          if (res === undefined) break
          await res.body.dump()
          // Not taken: sent again on the next tick, as Datafordeler retries.
          if (res.statusCode >= 300) break
          next += slice.length
          pushedCount += slice.length
        }
      } finally {
        busy = false
      }
    }
    pushTimer = setInterval(() => void tick(), 50)
  }

  return {
    baseUrl,
    graphqlUrl: `${baseUrl}/graphql`,
    register,
    entity,
    rows: (id) => objects.get(id) ?? [],
    ids: () => [...objects.keys()],
    randomChanges: (n) => {
      for (let i = 0; i < n; i++) randomChange()
    },
    change: (objectIds) => objectIds.forEach((id) => randomChange(id)),
    invalidate: (objectIds) =>
      objectIds.forEach((id) => apply(id, { op: "retract", objectType: entity, objectId: id, registreringstid: registrationNow(), virkningFra: null, virkningTil: null, eventId: "" })),
    reimport: (objectIds) => objectIds.forEach(reimport),
    failedImport: (objectIds) => {
      const now = Date.now()
      for (const id of objectIds) {
        const importSeq = nextImport++
        for (const row of objects.get(id) ?? []) rowEvents.push({ eventid: nextRowEvent++, action: "i", objectId: id, rowId: row.rowId, at: row.writtenAt, importSeq, failed: true, visibleAt: now, completeAt: now })
      }
    },
    reimports: (n) => {
      const ids = [...objects.keys()]
      for (let i = 0; i < n && ids.length > 0; i++) reimport(ids[Math.floor(random() * ids.length)]!)
    },
    generateDownload,
    downloadUrl: `${baseUrl}/FileDownloads/GetFile?Register=${register}&Type=Totaludtraek&Format=JSON`,
    events: () => events.length,
    rowEvents: () => nextRowEvent - 1,
    forgetRowEvents: (upTo) => {
      const kept = rowEvents.filter((e) => e.eventid > upTo)
      rowEvents.length = 0
      rowEvents.push(...kept)
    },
    setFaults: (next) => {
      faults = { ...faults, ...next }
    },
    holdPull,
    pushTo,
    pushed: () => pushedCount,
    listRequests: () => listRequests,
    tokenRequests: () => tokenRequests,
    requests: () => ({ ...counts }),
    close: async () => {
      if (pushTimer !== undefined) clearInterval(pushTimer)
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
