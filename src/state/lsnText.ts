/**
 * LSN <-> PostgreSQL's text form ("16/B374D848"), for the journal only: the
 * file stays readable and comparable with `pg_replication_slots`, while the
 * hot path keeps LSNs as JS numbers (exact below 2^53).
 */
const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

export const lsnTextPattern = LSN_TEXT

export const formatLsnText = (lsn: number): string => {
  const high = Math.floor(lsn / 0x1_0000_0000)
  const low = lsn - high * 0x1_0000_0000
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`
}

/** undefined when the text is not an LSN or exceeds 2^53. */
export const parseLsnText = (text: string): number | undefined => {
  const m = LSN_TEXT.exec(text)
  if (m === null) return undefined
  const value = parseInt(m[1]!, 16) * 0x1_0000_0000 + parseInt(m[2]!, 16)
  return Number.isSafeInteger(value) ? value : undefined
}
