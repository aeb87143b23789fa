/**
 * The bundle's lazy shims (dev/bundle-shims/, wired in dev/bundle.mjs): a
 * library's `node:tls` or `ws` import resolves to them, and they must behave
 * as the real module on first use. Real TLS handshakes and a real WebSocket
 * upgrade, through the shims.
 */
import { once } from "node:events"
import { readFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as realTls from "node:tls"
import { describe, expect, it } from "vitest"
import { makeCertificate } from "../support/tlsProxy.js"

interface TlsShim {
  readonly connect: typeof realTls.connect
  readonly createSecureContext: typeof realTls.createSecureContext
  readonly createServer: typeof realTls.createServer
  readonly TLSSocket: typeof realTls.TLSSocket
}
interface WsShim {
  readonly WebSocketServer: new (options: { noServer: true }) => {
    handleUpgrade: (request: http.IncomingMessage, socket: unknown, head: Buffer, done: (ws: { on: (e: string, f: (d: Buffer) => void) => void; send: (d: string) => void }) => void) => void
    close: () => void
  }
  readonly WebSocket: new (url: string) => { on: (e: string, f: (d: Buffer) => void) => void; send: (d: string) => void; close: () => void }
}

const shim = async <T>(name: string): Promise<T> => (await import(`../../dev/bundle-shims/${name}`)) as T

describe("the bundle's lazy shims", () => {
  it("tls: createServer, createSecureContext, connect and a server-side TLSSocket do real handshakes", async () => {
    const tls = await shim<TlsShim>("tls.mjs")
    const { certFile, keyFile } = makeCertificate("shim")
    const cert = readFileSync(certFile)
    const key = readFileSync(keyFile)
    // A server made by the shim, a client connected by the shim with a context made by the shim.
    const server = tls.createServer({ cert, key }, (socket) => socket.end("hello over tls"))
    server.listen(0, "127.0.0.1")
    await once(server, "listening")
    const port = (server.address() as AddressInfo).port
    const client = tls.connect({ host: "127.0.0.1", port, secureContext: tls.createSecureContext({ ca: cert }) })
    let text = ""
    client.on("data", (d: Buffer) => (text += d.toString()))
    await once(client, "end")
    expect(client.authorized).toBe(true)
    expect(text).toBe("hello over tls")
    server.close()
    // The server side as Effect's NodeSocket makes it: new TLSSocket over an accepted socket.
    const plain = (await import("node:net")).createServer((raw) => {
      const secure = new tls.TLSSocket(raw, { isServer: true, cert, key })
      secure.end("from a wrapped socket")
    })
    plain.listen(0, "127.0.0.1")
    await once(plain, "listening")
    const wrapped = realTls.connect({ host: "127.0.0.1", port: (plain.address() as AddressInfo).port, ca: cert })
    let wrappedText = ""
    wrapped.on("data", (d: Buffer) => (wrappedText += d.toString()))
    await once(wrapped, "end")
    expect(wrappedText).toBe("from a wrapped socket")
    plain.close()
  })

  it("ws: a WebSocketServer made on the first upgrade answers a WebSocket client", async () => {
    const ws = await shim<WsShim>("ws.mjs")
    const wss = new ws.WebSocketServer({ noServer: true })
    const server = http.createServer()
    server.on("upgrade", (request, socket, head) =>
      wss.handleUpgrade(request, socket, head, (socketWs) => socketWs.on("message", (d) => socketWs.send(`echo ${d.toString()}`))))
    server.listen(0, "127.0.0.1")
    await once(server, "listening")
    const client = new ws.WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)
    await once(client as never, "open")
    client.send("ping")
    const [reply] = (await once(client as never, "message")) as [Buffer]
    expect(reply.toString()).toBe("echo ping")
    client.close()
    wss.close()
    server.close()
  })
})
