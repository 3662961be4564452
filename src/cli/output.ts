/** Where listed rows go: stdout, or a file that appears under its name only once complete. */
import { Effect, Exit, Option, type Scope } from "effect"
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs"
import { CliError } from "./common.js"

export interface Sink {
  readonly write: (text: string) => void
}

/**
 * `--output FILE` is written as `FILE.partial` and renamed when the command succeeds (removed when
 * it fails), so a downstream polling for FILE never reads half of it.
 */
export const listSink = (output: Option.Option<string>): Effect.Effect<Sink, CliError, Scope.Scope> =>
  Option.match(output, {
    onNone: () => Effect.succeed({ write: (text: string) => void process.stdout.write(text) }),
    onSome: (file) =>
      Effect.acquireRelease(
        Effect.try({ try: () => openSync(`${file}.partial`, "w"), catch: (e) => new CliError({ message: `--output ${file}: ${(e as Error).message}` }) }),
        (fd, exit) =>
          Effect.sync(() => {
            closeSync(fd)
            if (Exit.isSuccess(exit)) renameSync(`${file}.partial`, file)
            else rmSync(`${file}.partial`, { force: true })
          })
      ).pipe(Effect.map((fd) => ({ write: (text: string) => void writeSync(fd, text) })))
  })
