// Lets Node run bench/*.ts directly (its built-in type stripping) while the
// sources keep the project's `.js` import suffixes that tsc (NodeNext) wants:
// a relative `./x.js` that does not exist resolves to `./x.ts`.
import { registerHooks } from "node:module"

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context)
    } catch (error) {
      if ((specifier.startsWith("./") || specifier.startsWith("../")) && specifier.endsWith(".js")) {
        return nextResolve(specifier.slice(0, -3) + ".ts", context)
      }
      throw error
    }
  }
})
