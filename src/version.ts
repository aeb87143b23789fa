/**
 * The package version, from the nearest package.json named "outboxx" above
 * this module: one level up from src/ and dist/ (and the bundled
 * dist/main.js), two from the bundle's dist/chunks/.
 */
import { readFileSync } from "node:fs"

const readVersion = (): string => {
  for (const relative of ["../package.json", "../../package.json"]) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")) as { name?: unknown; version?: unknown }
      if (manifest.name === "outboxx" && typeof manifest.version === "string") return manifest.version
    } catch {
      // Not there (or not ours): try the next level.
    }
  }
  return "0.0.0"
}

export const version: string = readVersion()
