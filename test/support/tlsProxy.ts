/**
 * A TLS front for the local PostgreSQL, which runs without TLS: it answers a
 * client's SSLRequest with 'S', does the TLS handshake with a certificate made
 * for 127.0.0.1 (openssl, per test run), and relays the decrypted protocol to
 * the real server. So Outboxx's TLS settings (sslmode, sslrootcert) are tested
 * against a real handshake and a real PostgreSQL behind it.
 *
 * `plain`: what a connection without TLS gets: relayed ("relay"), or refused
 * as pg_hba.conf refuses a `hostnossl`-less entry ("refuse": FATAL 28000).
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import path from "node:path"
import * as tls from "node:tls"

const sslRequestCode = 80877103

export interface TlsProxy {
  readonly port: number
  /** The certificate (self-signed, CN and IP SAN 127.0.0.1): the sslrootcert that verifies it. */
  readonly certFile: string
  /** Connections that did the TLS handshake / that stayed plain. */
  readonly counts: { tls: number; plain: number }
  readonly close: () => Promise<void>
}

/** A self-signed certificate for 127.0.0.1 in a new directory: `{ certFile, keyFile }`. */
export const makeCertificate = (name = "outboxx-test"): { certFile: string; keyFile: string } => {
  const dir = mkdtempSync(path.join(tmpdir(), `${name}-tls-`))
  const certFile = path.join(dir, "server.crt")
  const keyFile = path.join(dir, "server.key")
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    "-keyout", keyFile, "-out", certFile
  ], { stdio: "ignore" })
  return { certFile, keyFile }
}

/** A FATAL ErrorResponse as PostgreSQL sends it (severity, SQLSTATE, message). */
const errorResponse = (code: string, message: string): Buffer => {
  const fields = Buffer.concat([
    Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0`, "utf8"),
    Buffer.from([0])
  ])
  const header = Buffer.alloc(5)
  header.write("E", 0)
  header.writeInt32BE(fields.length + 4, 1)
  return Buffer.concat([header, fields])
}

export const startTlsProxy = async (
  upstreamPort: number,
  options: { readonly plain: "relay" | "refuse" } = { plain: "relay" }
): Promise<TlsProxy> => {
  const { certFile, keyFile } = makeCertificate()
  const cert = readFileSync(certFile)
  const key = readFileSync(keyFile)
  const counts = { tls: 0, plain: 0 }
  const sockets = new Set<net.Socket>()
  const relay = (front: net.Socket | tls.TLSSocket, first?: Buffer) => {
    const back = net.connect(upstreamPort, "127.0.0.1")
    sockets.add(back)
    if (first !== undefined && first.length > 0) back.write(first)
    front.pipe(back)
    back.pipe(front)
    const end = () => {
      front.destroy()
      back.destroy()
    }
    front.on("error", end).on("close", end)
    back.on("error", end).on("close", end)
  }
  const server = net.createServer((client) => {
    sockets.add(client)
    client.on("error", () => client.destroy())
    client.once("data", (first) => {
      if (first.length >= 8 && first.readInt32BE(4) === sslRequestCode) {
        counts.tls++
        client.write("S")
        const secure = new tls.TLSSocket(client, { isServer: true, cert, key })
        relay(secure, first.subarray(8))
        return
      }
      counts.plain++
      if (options.plain === "refuse") {
        client.end(errorResponse("28000", `no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "x", no encryption`))
        return
      }
      relay(client, first)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    certFile,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
