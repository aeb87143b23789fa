// `ws` for the bundle, loaded when a WebSocket (server) is first made.
//
// Why: @effect/platform-node's HTTP server imports `ws` for upgrades, and the
// import evaluated ws and everything it requires (node:https, node:tls,
// node:zlib...) in every daemon, which serves no WebSocket: about 3 MB of
// resident memory for nothing. The server makes its WebSocketServer only on
// the first upgrade (an Effect.cached), so that is when ws loads now.
// esbuild bundles the `require` below as ws's CommonJS wrapper, run on call.
let ws
const load = () => (ws ??= require("ws"))

export class WebSocketServer {
  constructor(...args) {
    return new (load().WebSocketServer)(...args)
  }
}

export class WebSocket {
  constructor(...args) {
    return new (load().WebSocket)(...args)
  }
}

export const createWebSocketStream = (...args) => load().createWebSocketStream(...args)
