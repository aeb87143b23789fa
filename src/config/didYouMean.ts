/**
 * "did you mean" suggestions for unknown configuration keys.
 */

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions (`kafak` -> `kafka` is 1). */
export const editDistance = (a: string, b: string): number => {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: Array<Array<number>> = Array.from({ length: rows }, () => new Array<number>(cols).fill(0))
  for (let i = 0; i < rows; i++) d[i][0] = i
  for (let j = 0; j < cols; j++) d[0][j] = j
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
      }
    }
  }
  return d[rows - 1][cols - 1]
}

// `clientId`, `client-id` and `CLIENT_ID` all mean `client_id`.
const normalize = (key: string): string => key.toLowerCase().replace(/[_-]/g, "")

/** The closest known key, if one is close enough to be a plausible typo. */
export const suggestKey = (unknown: string, known: ReadonlyArray<string>): string | undefined => {
  const wanted = normalize(unknown)
  const exact = known.find((k) => normalize(k) === wanted)
  if (exact !== undefined) return exact
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const distance = editDistance(wanted, normalize(candidate))
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  const allowed = Math.max(2, Math.floor(wanted.length / 3))
  return bestDistance <= allowed ? best : undefined
}
