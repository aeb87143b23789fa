/**
 * What a Kafka client library must provide for `kafka.delivery =
 * "exactly-once"`: one transactional producer, used by one sender at a time
 * (TransactionalProducer.ts owns the position topic, the error handling and
 * the Effect API around it).
 *
 * - `fence` starts the producer: InitProducerId for the transactional id,
 *   which bumps its epoch, aborts the transaction an earlier instance left
 *   open and fences that instance.
 * - `send` writes records inside the open transaction, opening one (and
 *   registering each new partition with the coordinator) as needed.
 * - `commit` commits the open transaction (which the caller has given its
 *   position record).
 * - `abort` aborts the open transaction, if any, and never rejects.
 */
import type { OutRecord } from "./batching.js"
import type { KafkaFailure } from "./errors.js"

export interface TransactionBackend {
  readonly fence: () => Promise<void>
  readonly send: (records: ReadonlyArray<OutRecord>) => Promise<void>
  readonly commit: () => Promise<void>
  readonly abort: () => Promise<void>
  readonly close: () => Promise<void>
  /** What a rejection of the calls above means. */
  readonly classify: (cause: unknown, options: { readonly createTopics: boolean }) => KafkaFailure
}

/** Settings both backends share. */
export interface TransactionOptions {
  readonly transactionalId: string
  /** How long the broker lets a transaction stay open before it aborts it. */
  readonly transactionTimeoutMs: number
  /** The largest produce request to build (records are split to stay under it). */
  readonly requestMaxBytes: number
}
