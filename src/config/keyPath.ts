/**
 * Key paths as users see them in error messages: TOML key names joined with
 * dots, array positions as 0-based `[n]` — `streams[1].topic`, `kafka.brokers[0]`.
 */
export type KeyPath = ReadonlyArray<PropertyKey>

const bareKey = /^[A-Za-z0-9_-]+$/

export const formatKeyPath = (path: KeyPath): string => {
  let out = ""
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else {
      const name = String(segment)
      // A key that TOML itself would need to quote is shown quoted, so the path stays unambiguous.
      const shown = bareKey.test(name) ? name : JSON.stringify(name)
      out += out === "" ? shown : `.${shown}`
    }
  }
  return out
}
