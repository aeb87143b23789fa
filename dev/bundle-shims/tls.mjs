// node:tls for bundled libraries (@platformatic/kafka's connections, Effect's
// NodeSocket), loaded on the first TLS connection: their static imports
// loaded tls into every daemon, also those whose brokers are plaintext
// (about 3 MB of resident memory). Only what those libraries call is here;
// a name they start to use fails the build, not a run.
const tls = () => process.getBuiltinModule("node:tls")

export const connect = (...args) => tls().connect(...args)
export const createSecureContext = (...args) => tls().createSecureContext(...args)
export const createServer = (...args) => tls().createServer(...args)

export class TLSSocket {
  constructor(...args) {
    return new (tls().TLSSocket)(...args)
  }
}
