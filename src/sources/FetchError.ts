/**
 * Why a request to an upstream service failed, and whether trying again can
 * help. A 503, a timeout, a dropped connection or an answer cut off half-way
 * pass; a 401, a 404 or a body that is not what was asked for stay what they
 * are however often they are asked again — retried, they only hide the cause
 * for minutes. Messages carry the URL without its query or credentials (an
 * `apiKey` travels in the query), never a body (it may hold personal data).
 */
import { Data, Duration, Schedule } from "effect"
import { printableUrl } from "../ingest/Download.js"

/** The request failed: no answer, or an answer whose status says no. */
export class FetchError extends Data.TaggedError("FetchError")<{
  /** The URL as it may be shown (printableUrl). */
  readonly url: string
  readonly status?: number
  readonly transient: boolean
  /** How long the service asked us to wait (Retry-After), when it said so simply. */
  readonly retryAfter?: Duration.Duration
  readonly message: string
  readonly cause?: unknown
}> {}

/** The service answered, but not with what was asked (a body that is not JSON, a GraphQL error, a missing field). */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly url: string
  readonly message: string
}> {
  /** Asking again gets the same answer. */
  readonly transient = false
}

export type UpstreamError = FetchError | DecodeError

/** A retry schedule that also waits what the service asked (Retry-After), never longer than `cap`. */
export const honouringRetryAfter = <Out>(schedule: Schedule.Schedule<Out>, cap: Duration.DurationInput) =>
  Schedule.intersect(
    schedule,
    Schedule.identity<unknown>().pipe(
      Schedule.addDelay((e) => (e instanceof FetchError && e.retryAfter !== undefined ? Duration.min(e.retryAfter, Duration.decode(cap)) : Duration.zero))
    )
  )

/** Whether a failure is an upstream one (the service's answer, or none), not the engine's own (a store's). */
export const isUpstreamError = (e: unknown): e is UpstreamError => e instanceof FetchError || e instanceof DecodeError

/** Whether a failure is an upstream one that trying again can help. */
export const isTransient = (e: unknown): boolean => isUpstreamError(e) && e.transient

/** Statuses that pass: timeouts, rate limits and the server's own trouble. */
export const isTransientStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500

/** `Retry-After` in seconds or as an HTTP date, relative to `nowMs`. */
export const retryAfterOf = (header: string | ReadonlyArray<string> | undefined, nowMs: number): Duration.Duration | undefined => {
  const value = (typeof header === "string" ? header : header?.[0])?.trim()
  if (value === undefined) return undefined
  if (/^\d+$/.test(value)) return Duration.seconds(Number(value))
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Duration.millis(Math.max(0, date - nowMs))
}

/** A non-success status from `url`, transient as its status says. */
export const statusError = (url: string, status: number, options: { readonly retryAfter?: Duration.Duration | undefined; readonly what?: string } = {}): FetchError =>
  new FetchError({
    url: printableUrl(url),
    status,
    transient: isTransientStatus(status),
    ...(options.retryAfter !== undefined && (status === 429 || status === 503) ? { retryAfter: options.retryAfter } : {}),
    message: `${options.what ?? "HTTP"} ${status} from ${printableUrl(url)}`
  })

/** Undici's codes for a request that cannot be made as written: asking again changes nothing. */
const PERMANENT_CODES = new Set(["UND_ERR_INVALID_ARG", "UND_ERR_NOT_SUPPORTED", "ERR_INVALID_URL"])

/**
 * Whatever a request threw: our own tagged errors as they are; anything else is
 * the connection's (refused, reset, timed out, a body cut off) and passes.
 */
export const requestError = (url: string, e: unknown): UpstreamError => {
  if (e instanceof FetchError || e instanceof DecodeError) return e
  const code = (e as { code?: unknown } | null)?.code
  const reason = e instanceof Error ? e.message : String(e)
  return new FetchError({
    url: printableUrl(url),
    transient: !(typeof code === "string" && PERMANENT_CODES.has(code)),
    message: `${reason} (${printableUrl(url)})`,
    cause: e
  })
}

/** A body that should have been JSON, parsed; a DecodeError when it is not. */
export const parseJson = (url: string, text: string, what = "a body that is not JSON"): unknown => {
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new DecodeError({ url: printableUrl(url), message: `${what} from ${printableUrl(url)}` })
  }
}
