/**
 * A client of a Confluent-compatible schema registry's REST API (Confluent
 * Schema Registry, Apicurio's `/apis/ccompat/v7`, Karapace, Redpanda): the
 * one call the avro format needs, "register this schema under this subject
 * and tell me its id". Registering a schema the subject already has returns
 * its id again, so it is safe after every restart and every Relation message.
 *
 * Failures say what a user can act on: the registry refusing a schema under
 * its compatibility rule (409), credentials (401/403), or the registry being
 * unreachable (retried by the pipeline like a broker outage).
 */
import * as fs from "node:fs"
import type * as Http from "node:http"
import type * as Https from "node:https"
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import type { SchemaRegistrySettings } from "../../../config/model.js"

/** Why registering a schema failed, and whether trying again later can succeed. */
export class RegistryFailure extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message)
    this.name = "RegistryFailure"
  }
}

interface Response {
  readonly status: number
  readonly body: string
}

/**
 * `node:http` and `node:https` are taken with `process.getBuiltinModule` when a
 * client is made, not imported: an ESM import of `node:http` loads Node's
 * bundled undici with it (see observability/http.ts), and a pipeline without
 * Avro never needs either.
 */
export class RegistryClient {
  private readonly base: URL
  private readonly agent: Http.Agent
  private readonly transport: typeof Http | typeof Https
  private readonly authorization: string | undefined
  private readonly timeoutMs: number
  /** `subject \0 schema text` -> id: a schema is registered once per process. */
  private readonly ids = new Map<string, number>()

  constructor(settings: SchemaRegistrySettings) {
    this.base = new URL(settings.url.endsWith("/") ? settings.url : `${settings.url}/`)
    const tls = settings.tls
    if (this.base.protocol === "https:") {
      const https = process.getBuiltinModule("node:https")
      this.transport = https
      this.agent = new https.Agent({
        keepAlive: true,
        ...(tls?.ca === undefined ? {} : { ca: fs.readFileSync(tls.ca) }),
        ...(tls?.cert === undefined ? {} : { cert: fs.readFileSync(tls.cert) }),
        ...(tls?.key === undefined ? {} : { key: fs.readFileSync(tls.key) }),
        rejectUnauthorized: tls?.rejectUnauthorized ?? true
      })
    } else {
      const http = process.getBuiltinModule("node:http")
      this.transport = http
      this.agent = new http.Agent({ keepAlive: true })
    }
    this.authorization = settings.username === undefined
      ? undefined
      : "Basic " + Buffer.from(`${settings.username}:${settings.password === undefined ? "" : Redacted.value(settings.password)}`)
        .toString("base64")
    this.timeoutMs = Duration.toMillis(settings.requestTimeout)
  }

  /** Where the registry is, for messages (the URL holds no credentials: the config refuses them there). */
  get url(): string {
    return this.base.toString()
  }

  /** Registers `schema` (Avro schema JSON text) under `subject`; resolves to its id. */
  async register(subject: string, schema: string): Promise<number> {
    const cacheKey = `${subject}\u0000${schema}`
    const known = this.ids.get(cacheKey)
    if (known !== undefined) return known
    const response = await this.request("POST", `subjects/${encodeURIComponent(subject)}/versions`, JSON.stringify({ schema, schemaType: "AVRO" }))
    if (response.status === 200) {
      const id = (JSON.parse(response.body) as { id?: unknown }).id
      if (typeof id !== "number") throw new RegistryFailure(`the schema registry at ${this.url} answered without a schema id: ${response.body.slice(0, 200)}`, false)
      this.ids.set(cacheKey, id)
      return id
    }
    const detail = registryMessage(response.body)
    if (response.status === 409) {
      throw new RegistryFailure(
        `the schema registry refused the new schema of subject "${subject}" as incompatible with its earlier versions ` +
          `(compatibility rule of the subject or the registry): ${detail}. Nothing after this change was delivered; ` +
          `change the subject's compatibility (PUT /config/${subject}) or the table, then restart`,
        false
      )
    }
    if (response.status === 401 || response.status === 403) {
      throw new RegistryFailure(`the schema registry at ${this.url} refused our credentials (HTTP ${response.status}): ${detail}`, false)
    }
    if (response.status === 422) {
      throw new RegistryFailure(`the schema registry rejected the schema of subject "${subject}" as invalid: ${detail}`, false)
    }
    // 5xx, 404 of a registry still starting, proxies: try again later.
    throw new RegistryFailure(`the schema registry at ${this.url} answered HTTP ${response.status} registering "${subject}": ${detail}`, true)
  }

  close(): void {
    this.agent.destroy()
  }

  private request(method: string, path: string, body: string): Promise<Response> {
    const url = new URL(path, this.base)
    const transport = this.transport
    return new Promise<Response>((resolve, reject) => {
      const request = transport.request(url, {
        method,
        agent: this.agent,
        timeout: this.timeoutMs,
        headers: {
          "content-type": "application/vnd.schemaregistry.v1+json",
          accept: "application/vnd.schemaregistry.v1+json, application/json",
          "content-length": Buffer.byteLength(body),
          ...(this.authorization === undefined ? {} : { authorization: this.authorization })
        }
      }, (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
        response.on("error", (cause) => reject(new RegistryFailure(`reading the schema registry's answer failed: ${cause.message}`, true)))
      })
      request.on("timeout", () => request.destroy(new Error(`no answer within ${this.timeoutMs} ms`)))
      request.on("error", (cause) =>
        reject(new RegistryFailure(`the schema registry at ${this.url} is unreachable: ${cause.message}`, true)))
      request.end(body)
    })
  }
}

const registryMessage = (body: string): string => {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error_code?: unknown }
    if (typeof parsed.message === "string") return parsed.message
  } catch {
    // not JSON: show the text
  }
  return body.slice(0, 300)
}
