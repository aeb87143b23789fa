/**
 * Transaction metadata of one stream (`transaction_topic`, INTERFACE.md
 * "Transaction metadata"): a BEGIN event before the stream's first event of
 * a source transaction, an END event after its last one with the number of
 * events per table, and the `transaction` block (`id`, `total_order`,
 * `data_collection_order`) each change event of the stream carries.
 *
 * The Router decides when a stream enters and leaves a transaction (`start`,
 * the END at the transaction's Commit, so END follows every change of it
 * and, with exactly-once delivery, is committed in the same Kafka
 * transaction); each event the stream's format writes counts itself
 * (`next`). Tombstones and snapshot reads are not change events of the
 * transaction and are not counted, as Debezium's.
 *
 * Two shapes: the pinned JSON of formats outboxx and cloudevents, and
 * Debezium's (JsonConverter with schemas) for format debezium.
 */
import type { OutRecord } from "./record/OutRecord.js"
import { jsonRecord } from "./record/OutRecord.js"
import { jsonString } from "./values/jsonString.js"
import { formatLsn } from "../postgres/lsn.js"
import type { Transaction } from "./EventFormat.js"

export type MetadataShape = "outboxx" | "debezium"

const debeziumKeySchema = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,` +
  `"name":"io.debezium.connector.common.TransactionMetadataKey","version":1}`

const debeziumValueSchema = `{"type":"struct","fields":[` +
  `{"type":"string","optional":false,"field":"status"},` +
  `{"type":"string","optional":false,"field":"id"},` +
  `{"type":"int64","optional":true,"field":"event_count"},` +
  `{"type":"array","items":{"type":"struct","fields":[` +
  `{"type":"string","optional":false,"field":"data_collection"},` +
  `{"type":"int64","optional":false,"field":"event_count"}],"optional":true,"name":"event.collection","version":1},"optional":true,"field":"data_collections"},` +
  `{"type":"int64","optional":false,"field":"ts_ms"}],` +
  `"optional":false,"name":"io.debezium.connector.common.TransactionMetadataValue","version":1}`

export class StreamTransactions {
  /** The transaction whose events the stream is writing; undefined between them. */
  current: Transaction | undefined = undefined
  /**
   * The id the next block or event carries. Shape outboxx: `<xid>:<commit
   * LSN>` (as PostgreSQL prints it) in every one, so BEGIN, the events and
   * END of a transaction join on it. Shape debezium: as Debezium's
   * connector writes it, `<xid>:<LSN>` with the LSN of where it was (BEGIN:
   * the stream's first event; an event: its own; END: the commit's end), so
   * they do not join on it; join on `source.txId` there.
   */
  id = ""
  /** Events of the current transaction so far: the last one's `total_order`. */
  total = 0
  /** The last event's `data_collection_order` (its table's count so far). */
  collectionOrder = 0
  /** Events per table (`schema.table`), in the order the tables first had one. */
  private readonly counts = new Map<string, number>()

  constructor(readonly topic: string, readonly shape: MetadataShape) {}

  /** The stream's first event of `tx`, at `lsn`, follows: returns its BEGIN record. */
  start(tx: Transaction, lsn: number): OutRecord {
    this.current = tx
    this.id = this.shape === "debezium" ? `${tx.xid}:${lsn}` : `${tx.xid}:${formatLsn(tx.commitLsn)}`
    this.total = 0
    this.collectionOrder = 0
    this.counts.clear()
    return this.record("BEGIN", null, tx.commitTimeMs)
  }

  /** One more event, of table `table` (`schema.table`) at `lsn`: sets `total` and `collectionOrder` for its block. */
  next(table: string, lsn: number): void {
    if (this.shape === "debezium") this.id = `${this.current!.xid}:${lsn}`
    this.total++
    const n = (this.counts.get(table) ?? 0) + 1
    this.counts.set(table, n)
    this.collectionOrder = n
  }

  /** The `transaction` block of the last event counted. */
  block(): string {
    return `{"id":${jsonString(this.id)},"total_order":${this.total},"data_collection_order":${this.collectionOrder}}`
  }

  /** The current transaction's END record, its commit ending at `endLsn`; the stream is between transactions after it. */
  end(endLsn: number): OutRecord {
    const tx = this.current!
    this.current = undefined
    if (this.shape === "debezium") this.id = `${tx.xid}:${endLsn}`
    let collections = "["
    let first = true
    for (const [table, count] of this.counts) {
      collections += `${first ? "" : ","}{"data_collection":${jsonString(table)},"event_count":${count}}`
      first = false
    }
    return this.record("END", { events: this.total, collections: collections + "]" }, tx.commitTimeMs)
  }

  private record(status: "BEGIN" | "END", counts: { readonly events: number; readonly collections: string } | null, tsMs: number): OutRecord {
    const id = jsonString(this.id)
    const eventCount = counts === null ? "null" : String(counts.events)
    const collections = counts === null ? "null" : counts.collections
    if (this.shape === "debezium") {
      return jsonRecord(
        this.topic,
        `{"schema":${debeziumKeySchema},"payload":{"id":${id}}}`,
        `{"schema":${debeziumValueSchema},"payload":{"status":"${status}","id":${id},"event_count":${eventCount},"data_collections":${collections},"ts_ms":${tsMs}}}`
      )
    }
    return jsonRecord(
      this.topic,
      `{"id":${id}}`,
      `{"status":"${status}","id":${id},"ts_ms":${tsMs},"event_count":${eventCount},"data_collections":${collections}}`
    )
  }
}
