/** The state module's public surface: the StateStore service, its events and fold. */
export * from "./JournalEvent.js"
export {
  applyEvent,
  type Checkpoint,
  emptyJournalState,
  foldEvents,
  type JournalState,
  type RoleState,
  type SlotIdentity,
  type TableSnapshotProgress
} from "./JournalState.js"
export { type CompactionOptions, StateStore, type StateStoreShape } from "./StateStore.js"
export { StateStoreError } from "./StateStoreError.js"
