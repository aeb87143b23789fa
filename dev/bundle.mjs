// Bundles the CLI into dist/main.js (run by `npm run build` after tsc).
//
// Why: the tsc output loads ~1,000 modules at start (the `effect` barrel alone
// pulls in all of Effect): `outboxx --version` took 2.1 s and 127 MB. One
// tree-shaken file starts in about 0.5 s with about 35 MB less resident memory,
// which is also that much faster a restart after a crash or failover.
//
// Effect and @platformatic/kafka (ESM) are bundled: tree-shaken, and without
// the loading of hundreds of modules (platformatic's index pulls in every API,
// client and schema registry): -17 MB resident for an idle daemon. What reads
// files next to its own code stays in node_modules: @platformatic/wasm-utils
// (its .wasm) and @node-rs/crc32 (a native addon, found from dist/chunks by
// the usual node_modules lookup). pg and kafkajs (CommonJS) stay there too. The
// few CommonJS modules that do get bundled (ws, ajv) get a real `require`. The
// library entry (dist/index.js, for users composing our Layers) stays tsc's
// module tree.
import * as esbuild from "esbuild"
import { readFileSync, rmSync } from "node:fs"

const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
const bundled = (name) => name === "effect" || name.startsWith("@effect/") || name === "@platformatic/kafka"
const external = Object.keys(manifest.dependencies ?? {})
  .filter((name) => !bundled(name))
  .flatMap((name) => [name, `${name}/*`])

// Chunk names carry content hashes: without this, every build would leave the
// previous build's chunks behind in dist/ (and in the published package).
rmSync(new URL("../dist/chunks", import.meta.url), { recursive: true, force: true })

// Modules that bundled libraries import at their top but use only for a
// feature a daemon may never touch: resolved to shims that load the real one
// on first use (dev/bundle-shims/ says why for each).
const lazyImports = {
  name: "lazy-imports",
  setup(build) {
    const shim = (file) => ({ path: new URL(`./bundle-shims/${file}`, import.meta.url).pathname })
    build.onResolve({ filter: /^ws$/ }, (args) =>
      /platform-node-shared[\\/]dist[\\/]NodeWS\.js$/.test(args.importer) ? shim("ws.mjs") : undefined)
    build.onResolve({ filter: /^node:tls$/ }, (args) =>
      /@platformatic[\\/]kafka[\\/]|@effect[\\/]platform-node-shared[\\/]/.test(args.importer) ? shim("tls.mjs") : undefined)
  }
}

await esbuild.build({
  plugins: [lazyImports],
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
  external: [...external, "pg-native", "@platformatic/wasm-utils", "@node-rs/crc32"],
  banner: { js: 'import { createRequire as __outboxxCreateRequire } from "node:module"; const require = __outboxxCreateRequire(import.meta.url);' },
  // V8 keeps every loaded module's source text on the heap, and stores a
  // whole file in two bytes per character when one comment has a non-Latin-1
  // character (the platformatic chunk did: 2.9 MB for a 1.46 MB file). Without
  // whitespace and comments the sources take less than half: 2.4 MB less
  // resident memory for an idle daemon. Identifiers stay as written, so stack
  // traces and CPU profiles still name every function.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: "warning"
})
