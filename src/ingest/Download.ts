/**
 * Fetch an extract from a download service (e.g. Datafordeler's file
 * downloads) into a local file before it is read: streamed to disk, never held
 * in memory. An API key travels as the `apiKey` query parameter, as
 * Datafordeler expects; messages show the URL without its query, so the key
 * never reaches a log.
 */
import { Effect } from "effect"
import { createWriteStream } from "node:fs"
import { basename, join } from "node:path"
import { pipeline } from "node:stream/promises"
import { Agent, interceptors, request } from "undici"

export interface DownloadOptions {
  readonly dir: string
  readonly apiKey?: string
  readonly timeoutSeconds: number
  readonly progress?: { bytes: number }
}

/** The URL as it may be shown: no query, no credentials. */
export const printableUrl = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.origin}${u.pathname}`
  } catch {
    return "<unparseable URL>"
  }
}

const fileNameOf = (url: URL, disposition: string | string[] | undefined): string => {
  const header = Array.isArray(disposition) ? disposition[0] : disposition
  const named = header === undefined ? undefined : /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header)?.[1]
  const name = basename(decodeURIComponent(named ?? url.pathname)).replace(/[^A-Za-z0-9._-]/g, "_")
  return name.length > 0 && name !== "_" ? name : "extract.zip"
}

export const downloadToFile = (url: string, options: DownloadOptions) =>
  Effect.tryPromise({
    try: async (signal) => {
      const target = new URL(url)
      if (target.protocol !== "https:" && target.protocol !== "http:") throw new Error(`not an http(s) URL: ${printableUrl(url)}`)
      if (options.apiKey !== undefined) target.searchParams.set("apiKey", options.apiKey)
      // Download services often answer with a redirect to the file's storage.
      const agent = new Agent()
      try {
        const res = await request(target, {
          method: "GET",
          signal,
          dispatcher: agent.compose(interceptors.redirect({ maxRedirections: 5 })),
          headersTimeout: options.timeoutSeconds * 1000,
          bodyTimeout: options.timeoutSeconds * 1000
        })
        if (res.statusCode !== 200) {
          await res.body.dump()
          throw new Error(`HTTP ${res.statusCode} from ${printableUrl(url)}`)
        }
        const file = join(options.dir, fileNameOf(target, res.headers["content-disposition"]))
        const progress = options.progress
        if (progress !== undefined) res.body.on("data", (chunk: Buffer) => void (progress.bytes += chunk.byteLength))
        await pipeline(res.body, createWriteStream(file))
        return file
      } finally {
        await agent.close()
      }
    },
    catch: (e) => new Error(`downloading ${printableUrl(url)}: ${(e as Error).message.replaceAll(options.apiKey ?? "\u0000", "***")}`)
  })
