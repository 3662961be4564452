/** `skygge migrate`: the store's migration step alone, for operators who migrate before starting a new version. */
import { Command } from "@effect/cli"
import { Effect, Option } from "effect"
import { migrateStoreFromConfig, withConfig } from "../../StoreFromConfig.js"
import { configOption, println } from "../common.js"

export const migrate = Command.make("migrate", { config: configOption }, ({ config }) =>
  withConfig(
    Option.getOrUndefined(config),
    Effect.gen(function* () {
      const applied = yield* migrateStoreFromConfig
      if (applied.length === 0) return yield* println("store is up to date")
      for (const tag of applied) yield* println(`applied ${tag}`)
    })
  )
).pipe(Command.withDescription("Apply the migrations the store lacks, creating it if need be (skygge run and the writing commands do this too; reading commands never migrate)"))
