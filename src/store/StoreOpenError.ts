/** The store cannot be opened (or migrated); the message names the store and what to do — never a password. */
import { Data } from "effect"

export class StoreOpenError extends Data.TaggedError("StoreOpenError")<{ readonly message: string }> {}
