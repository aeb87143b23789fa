/**
 * pgoutput messages with their tuples as plain arrays of values, for tests:
 * fixtures are written this way, and decoded messages (whose tuples are
 * Tuple instances over a shared slab) are compared this way.
 */
import type { Delete, Insert, PgoutputMessage, TupleValue, Update } from "../../src/decode/messages.js"
import { Tuple } from "../../src/decode/tuple.js"

type PlainTuple = ReadonlyArray<TupleValue>

export type PlainInsert = Omit<Insert, "newTuple"> & { readonly newTuple: PlainTuple }
export type PlainUpdate = Omit<Update, "oldTuple" | "newTuple"> & {
  readonly oldTuple: PlainTuple | undefined
  readonly newTuple: PlainTuple
}
export type PlainDelete = Omit<Delete, "oldTuple"> & { readonly oldTuple: PlainTuple }

/** A PgoutputMessage whose tuples are arrays of values. */
export type PlainMessage = Exclude<PgoutputMessage, Insert | Update | Delete> | PlainInsert | PlainUpdate | PlainDelete

/** The message with every tuple as its `values()`. */
export const toPlain = (message: PgoutputMessage): PlainMessage => {
  switch (message.tag) {
    case "Insert":
      return { ...message, newTuple: message.newTuple.values() }
    case "Update":
      return { ...message, oldTuple: message.oldTuple?.values(), newTuple: message.newTuple.values() }
    case "Delete":
      return { ...message, oldTuple: message.oldTuple.values() }
    default:
      return message
  }
}

/** The message with every tuple built by `Tuple.fromValues`. */
export const fromPlain = (message: PlainMessage): PgoutputMessage => {
  switch (message.tag) {
    case "Insert":
      return { ...message, newTuple: Tuple.fromValues(message.newTuple) }
    case "Update":
      return {
        ...message,
        oldTuple: message.oldTuple === undefined ? undefined : Tuple.fromValues(message.oldTuple),
        newTuple: Tuple.fromValues(message.newTuple)
      }
    case "Delete":
      return { ...message, oldTuple: Tuple.fromValues(message.oldTuple) }
    default:
      return message
  }
}
