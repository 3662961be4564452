/**
 * Progress of a bulk load on stderr: a one-line bar on a terminal (bytes, rate, ETA, outcomes),
 * otherwise a plain line every few seconds (for logs of scheduled jobs).
 */
import type { IngestSummary } from "../ingest/Ingest.js"
import { formatCount } from "./format.js"

const MiB = 1048576

export const progressBar = (total: number | undefined, noun = "ops", count: (s: IngestSummary) => number = (s) => s.lines) => {
  const start = Date.now()
  const tty = process.stderr.isTTY === true
  let last = 0
  const render = (bytes: number, s: IngestSummary) => {
    const seconds = (Date.now() - start) / 1000
    const n = count(s)
    const rate = seconds > 0 ? n / seconds : 0
    const fraction = total ? Math.min(1, bytes / total) : 0
    const eta = total && fraction > 0 ? Math.round(seconds / fraction - seconds) : undefined
    const outcomes = `applied ${formatCount(s.applied)}  unchanged ${formatCount(s.unchanged)}  duplicate ${formatCount(s.duplicate)}  refused ${formatCount(s.refused)}`
    if (!tty) {
      const of = total ? ` of ${formatCount(Math.round(total / MiB))} MiB (${(fraction * 100).toFixed(0)}%)` : ""
      process.stderr.write(`progress: ${formatCount(n)} ${noun}, ${formatCount(Math.round(bytes / MiB))} MiB${of}, ${formatCount(Math.round(rate))} ${noun}/s${eta === undefined ? "" : `, ETA ${eta}s`}; ${outcomes}\n`)
      return
    }
    const width = 24
    const filled = Math.round(fraction * width)
    const barText = total ? `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` : ""
    process.stderr.write(`\r${barText}${formatCount(n)} ${noun}  ${formatCount(Math.round(rate))} ${noun}/s${eta === undefined ? "" : `  ETA ${eta}s`}  ${outcomes}\x1b[K`)
  }
  return {
    update: (bytes: number, s: IngestSummary) => {
      const t = Date.now()
      if (t - last >= (tty ? 100 : 5000)) {
        last = t
        render(bytes, s)
      }
    },
    done: () => {
      if (tty) process.stderr.write("\n")
    }
  }
}
