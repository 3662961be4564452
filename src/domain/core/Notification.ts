/**
 * The thin notification skygge sends downstream, IntArk style: a CloudEvent
 * (JSON, structured mode) that points at an object and says what happened and
 * when — never the row's data. Consumers fetch the object from the as-of API.
 */
import type { Bound, Instant } from "./Instant.js"

export interface NotificationRecord {
  readonly seq: number
  readonly id: string
  /** `erased`: the object's data was erased here (issue 18); a subscriber should erase its copy. */
  readonly type: "created" | "updated" | "deleted" | "validity-started" | "validity-ended" | "erased"
  readonly objectType: string
  readonly objectId: string
  readonly registreringstid: Instant
  readonly virkningFra: Bound
  readonly virkningTil: Bound
  readonly at: Instant | null
  readonly late: boolean | null
  readonly createdAt: Instant
}

export interface NotificationOptions {
  /** CloudEvents `source`, e.g. `urn:skygge:uio-fs-shadow`. */
  readonly source: string
  /** First part of `type` and of the routing key, e.g. `no.uio.skygge`. */
  readonly prefix: string
  /** Base URL of this engine's API; `subject` is then the object's URL. */
  readonly subjectBaseUrl: string
}

export interface CloudEvent {
  readonly specversion: "1.0"
  readonly id: string
  readonly source: string
  readonly type: string
  readonly subject: string
  readonly time: string
  readonly objecttype: string
  readonly objectid: string
  readonly registreringstid: string
  readonly virkningfra: string | null
  readonly virkningtil: string | null
  /** The outbox sequence number: per-object order for consumers that want to check it. */
  readonly sequence: string
  /** Activations only: the instant that came, and whether it came late (after downtime). */
  readonly activationat?: string
  readonly late?: boolean
}

/** `{prefix}.{objectType}.{type}`: the routing key and the CloudEvents type. */
export const routingKey = (record: NotificationRecord, options: Pick<NotificationOptions, "prefix">): string =>
  `${options.prefix}.${record.objectType}.${record.type}`

export const toCloudEvent = (record: NotificationRecord, options: NotificationOptions): CloudEvent => {
  const path = `${encodeURIComponent(record.objectType)}/${encodeURIComponent(record.objectId)}`
  return {
    specversion: "1.0",
    id: record.id,
    source: options.source,
    type: routingKey(record, options),
    subject: options.subjectBaseUrl.length > 0 ? `${options.subjectBaseUrl.replace(/\/+$/, "")}/v1/objects/${path}` : path,
    time: record.createdAt,
    objecttype: record.objectType,
    objectid: record.objectId,
    registreringstid: record.registreringstid,
    virkningfra: record.virkningFra,
    virkningtil: record.virkningTil,
    sequence: String(record.seq),
    ...(record.at !== null ? { activationat: record.at, late: record.late === true } : {})
  }
}
