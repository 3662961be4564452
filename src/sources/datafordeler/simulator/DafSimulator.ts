/**
 * A Datafordeler-like register for tests, the demo and benchmarks: one entity
 * of a bitemporal register that applies generated changes (creations,
 * corrections, changes of validity in the past or the future, invalidations),
 * and serves them as Datafordeler does:
 *
 *   GET /system/EventMessages/1.0.0/custom?datefrom&dateto&page&pagesize&format=json
 *       the legacy PULL service: envelopes in the real shape, `Id` rising, stamped
 *       with the registration time but visible only `commitDelayMs` later (the
 *       commit-scope delay that makes clients overlap their windows);
 *   GET /rest/{entity}?id={id}
 *       the object's full history in Datafordeler naming (current rows omit their
 *       open ends; instants with 7 fractional digits and a +01:00 offset), lagging
 *       the events by `restLagMs`.
 *
 * Faults: 5xx answers. Deterministic for a seed.
 */
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { type Bound, fromEpochMillis, type Instant, parseInstant, toEpochMillis } from "../../../domain/Instant.js"
import { canonicalJson, type Operation } from "../../../domain/Operation.js"
import { planOperation } from "../../../domain/Plan.js"
import { seededRandom } from "../../intark/simulator/FsSimulator.js"

export interface DafFaults {
  readonly error5xxRate: number
  /** REST shows a change this long after it was registered. */
  readonly restLagMs: number
  /** An event becomes visible in PULL this long after its timestamp. */
  readonly commitDelayMs: number
}

export interface DafRow {
  readonly id: number
  readonly registreringFra: Instant
  registreringTil: Bound
  readonly virkningFra: Bound
  readonly virkningTil: Bound
  readonly data: Record<string, unknown>
  /** When REST shows the row (and its close). */
  visibleAt: number
  closeVisibleAt: number
}

export interface DafSimulator {
  readonly baseUrl: string
  readonly entity: string
  /** The register's rows of an object, as REST will show them once the lag has passed. */
  readonly rows: (objectId: string) => ReadonlyArray<DafRow>
  readonly ids: () => ReadonlyArray<string>
  /** Apply `n` random changes, one registration instant each (strictly increasing). */
  readonly randomChanges: (n: number) => void
  readonly events: () => number
  readonly setFaults: (faults: Partial<DafFaults>) => void
  readonly close: () => Promise<void>
}

const DAY = 86_400_000

/** Datafordeler's way of writing an instant: local offset, 7 fractional digits. */
export const dafInstant = (i: Instant): string => {
  const local = fromEpochMillis(toEpochMillis(i) + 3_600_000)
  return `${local.slice(0, 19)}.${i.slice(20, 26)}0+01:00`
}

export const startDafSimulator = async (options: {
  readonly seed?: number
  readonly entity?: string
  readonly faults?: Partial<DafFaults>
  /** Events carry the rows they changed (Beskeddata[].Objektdata), as MAT's and EBR's do. */
  readonly inlineRows?: boolean
}): Promise<DafSimulator> => {
  const entity = options.entity ?? "Adresse"
  let faults: DafFaults = { error5xxRate: 0, restLagMs: 0, commitDelayMs: 0, ...options.faults }
  const random = seededRandom(options.seed ?? 1)
  const objects = new Map<string, Array<DafRow>>()
  // Each envelope is serialised once, when it is made: serving a 100,000-event page is then a join.
  const events: Array<{ id: number; timestamp: Instant; visibleAt: number; json: string }> = []
  let nextRow = 1, nextEvent = 219_585_000, lastUs = 0

  /** A registration instant after every earlier one (microseconds apart at least), close to now. */
  const registrationNow = (): Instant => {
    const us = Math.max(Date.now() * 1000 + Math.floor(random() * 1000), lastUs + 1)
    lastUs = us
    return fromEpochMillis(us / 1000)
  }

  const apply = (objectId: string, op: Operation) => {
    const rows = objects.get(objectId) ?? []
    const current = rows.filter((r) => r.registreringTil === null).map((r) => ({ id: r.id, virkningFra: r.virkningFra, virkningTil: r.virkningTil, data: canonicalJson(r.data) }))
    const plan = planOperation(current, op)
    if (plan._tag === "Unchanged") return false
    const visibleAt = Date.now() + faults.restLagMs
    const touched: Array<DafRow> = []
    for (const id of plan.close) {
      const row = rows.find((r) => r.id === id)!
      row.registreringTil = op.registreringstid
      row.closeVisibleAt = visibleAt
      touched.push(row)
    }
    for (const n of plan.insert) {
      const row: DafRow = { id: nextRow++, registreringFra: op.registreringstid, registreringTil: null, virkningFra: n.virkningFra, virkningTil: n.virkningTil, data: JSON.parse(n.data) as Record<string, unknown>, visibleAt, closeVisibleAt: Infinity }
      rows.push(row)
      touched.push(row)
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
    events.push({
      id,
      timestamp: op.registreringstid,
      visibleAt: Date.now() + faults.commitDelayMs,
      json: JSON.stringify({ Id: id, Message: { Grunddatabesked: { Hændelsesbesked: body } }, Format: "Json", Timestamp: `${op.registreringstid.slice(0, 26)}Z` })
    })
    return true
  }

  const randomChange = () => {
    const ids = [...objects.keys()]
    const r = registrationNow()
    const rMs = Math.floor(lastUs / 1000)
    const name = () => `${["Åbakke", "Grøndal Allé", "Vestergade", "Østerbro", "Søndre Vej"][Math.floor(random() * 5)]} ${1 + Math.floor(random() * 99)}`
    if (ids.length === 0 || random() < 0.25) {
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

  const restRow = (row: DafRow, now: number): Record<string, unknown> => ({
    ...row.data,
    registreringFra: dafInstant(row.registreringFra),
    ...(row.registreringTil !== null && row.closeVisibleAt <= now ? { registreringTil: dafInstant(row.registreringTil) } : {}),
    ...(row.virkningFra !== null ? { virkningFra: dafInstant(row.virkningFra) } : {}),
    ...(row.virkningTil !== null ? { virkningTil: dafInstant(row.virkningTil) } : {}),
    datafordelerOpdateringstid: dafInstant(fromEpochMillis(Math.min(now, Math.max(row.visibleAt, row.closeVisibleAt === Infinity ? 0 : row.closeVisibleAt))))
  })

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8" })
    res.end(JSON.stringify(body))
  }

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://simulator")
    if (random() < faults.error5xxRate) return send(res, 503, { message: "Service Unavailable" })
    const now = Date.now()
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
      res.writeHead(200, { "content-type": "application/json; charset=utf-8" })
      return res.end(`[${slice.map((e) => e.json).join(",")}]`)
    }
    if (url.pathname === `/rest/${entity.toLowerCase()}`) {
      const id = url.searchParams.get("id") ?? ""
      const rows = (objects.get(id) ?? []).filter((r) => r.visibleAt <= now)
      return send(res, 200, rows.map((r) => restRow(r, now)))
    }
    send(res, 404, { message: "no such endpoint" })
  }

  const server = createServer(handle)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return {
    baseUrl,
    entity,
    rows: (id) => objects.get(id) ?? [],
    ids: () => [...objects.keys()],
    randomChanges: (n) => {
      for (let i = 0; i < n; i++) randomChange()
    },
    events: () => events.length,
    setFaults: (next) => {
      faults = { ...faults, ...next }
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
