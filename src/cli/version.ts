/** The package version, read from package.json (two levels up from both src/cli and dist/cli). */
import { readFileSync } from "node:fs"

const readVersion = (): string => {
  try {
    const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8")
    const version = (JSON.parse(text) as { version?: unknown }).version
    return typeof version === "string" ? version : "0.0.0"
  } catch {
    return "0.0.0"
  }
}

export const version: string = readVersion()
