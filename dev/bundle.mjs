// Bundles the CLI into dist/main.js (run by `npm run build` after tsc).
//
// Why: the tsc output loads ~1,000 modules at start (the `effect` barrel alone
// pulls in all of Effect): `outboxx --version` took 2.1 s and 127 MB. One
// tree-shaken file starts in about 0.5 s with about 35 MB less resident memory,
// which is also that much faster a restart after a crash or failover.
//
// Effect (ESM, side-effect free) is bundled; every other dependency stays an
// import from node_modules: they are CommonJS or ship files they read at run
// time (e.g. a .wasm next to their code), which a bundle would break. The few
// CommonJS modules Effect's Node platform pulls in (ws) get a real `require`. The
// library entry (dist/index.js, for users composing our Layers) stays tsc's
// module tree.
import * as esbuild from "esbuild"
import { readFileSync } from "node:fs"

const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
const bundled = (name) => name === "effect" || name.startsWith("@effect/")
const external = Object.keys(manifest.dependencies ?? {})
  .filter((name) => !bundled(name))
  .flatMap((name) => [name, `${name}/*`])

await esbuild.build({
  entryPoints: ["src/main.ts"],
  outdir: "dist",
  // Lazily imported modules (the CLI behind the relaunch check in main.ts, the
  // Kafka backend in use) become chunks: main.js itself stays tiny, and no
  // lazy wrappers end up around the whole module graph.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  external: [...external, "pg-native"],
  banner: { js: 'import { createRequire as __outboxxCreateRequire } from "node:module"; const require = __outboxxCreateRequire(import.meta.url);' },
  logLevel: "warning"
})
