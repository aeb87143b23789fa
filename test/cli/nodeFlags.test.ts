import { describe, expect, it } from "vitest"
import { daemonNodeFlags, missingNodeFlags } from "../../src/cli/nodeFlags.js"

describe("missingNodeFlags", () => {
  it("asks for the daemon's flags when none is given", () => {
    expect(missingNodeFlags([], undefined)).toEqual(daemonNodeFlags)
    expect(missingNodeFlags(["--enable-source-maps"], "--max-old-space-size=512")).toEqual(daemonNodeFlags)
  })

  it("keeps a semi-space size the user chose, on the command line or in NODE_OPTIONS, in either spelling", () => {
    expect(missingNodeFlags(["--max-semi-space-size=64"], undefined)).toEqual(["--heap-growing-percent=60"])
    expect(missingNodeFlags([], "--inspect --max_semi_space_size=8")).toEqual(["--heap-growing-percent=60"])
  })

  it("adds nothing when the user chose both settings", () => {
    expect(missingNodeFlags(["--max-semi-space-size=64", "--heap_growing_percent=100"], undefined)).toEqual([])
  })
})
