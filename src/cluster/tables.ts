/**
 * The control database's tables. effect/cluster's SqlRunnerStorage creates
 * `<prefix>_runners` (address, healthy, last_heartbeat) and `<prefix>_locks`
 * (shard_id, address, acquired_at) itself; the pipelines' shared state is in
 * `<cluster.state_schema>.journal` and `.holder` (state/PostgresJournal.ts).
 */
export const clusterTablePrefix = "outboxx_cluster"
