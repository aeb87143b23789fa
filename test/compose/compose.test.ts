/**
 * docker-compose.yml is for users trying Outboxx; nothing runs it in CI, so
 * this test checks that its pieces fit together: the services exist, the
 * config mounted into outboxx names the other services at the right ports,
 * and everything published stays on the host's loopback.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Result from "effect/Result"
import * as Toml from "effect/encoding/Toml"
import * as Yaml from "effect/encoding/Yaml"
import { describe, expect, it } from "vitest"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const readRepoFile = (file: string) => fs.readFileSync(path.join(repoRoot, file), "utf8")

type Dict = Record<string, unknown>
const isDict = (value: unknown): value is Dict => typeof value === "object" && value !== null && !Array.isArray(value)
const dict = (value: unknown, what: string): Dict => {
  if (!isDict(value)) throw new Error(`${what} is not a mapping`)
  return value
}
const list = (value: unknown, what: string): Array<unknown> => {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list`)
  return value
}
const str = (value: unknown, what: string): string => {
  if (typeof value !== "string") throw new Error(`${what} is not a string`)
  return value
}

const compose = dict(Yaml.parse(readRepoFile("docker-compose.yml")), "docker-compose.yml")
const services = dict(compose.services, "services")
const service = (name: string) => dict(services[name], `services.${name}`)

/** `environment` as a mapping (compose also allows a list of KEY=value). */
const environment = (name: string): Record<string, string> => {
  const env = service(name).environment
  if (env === undefined) return {}
  const entries: Array<[string, string]> = Array.isArray(env)
    ? env.map((item) => {
        const text = str(item, `${name}.environment[]`)
        const eq = text.indexOf("=")
        return [text.slice(0, eq), text.slice(eq + 1)]
      })
    : Object.entries(dict(env, `${name}.environment`)).map(([key, value]) => [key, String(value)])
  return Object.fromEntries(entries)
}

/** A command as words, whether written as a string or a list. */
const command = (name: string): Array<string> => {
  const value = service(name).command
  return typeof value === "string" ? value.split(/\s+/) : list(value, `${name}.command`).map((w) => String(w))
}

interface PublishedPort {
  readonly hostIp: string | undefined
  readonly hostPort: number
  readonly containerPort: number
}

/** Short-syntax `ports` entries: "[ip:]host:container". */
const publishedPorts = (name: string): Array<PublishedPort> =>
  list(service(name).ports ?? [], `${name}.ports`).map((entry) => {
    const parts = str(entry, `${name}.ports[]`).split(":")
    const containerPort = Number(parts.at(-1))
    const hostPort = Number(parts.at(-2) ?? parts.at(-1))
    return { hostIp: parts.length === 3 ? parts[0] : undefined, hostPort, containerPort }
  })

/** Short-syntax volume mounts: "source:target[:mode]". */
const mounts = (name: string): Array<{ source: string; target: string }> =>
  list(service(name).volumes ?? [], `${name}.volumes`).map((entry) => {
    const [source, target] = str(entry, `${name}.volumes[]`).split(":")
    return { source: source!, target: target! }
  })

const parseToml = (file: string): Dict => {
  const parsed = Toml.parse(readRepoFile(file))
  if (Result.isFailure(parsed)) throw new Error(`${file}: ${parsed.failure.message}`)
  return parsed.success
}

/** Every key path of a TOML document (arrays of tables contribute their items' keys). */
const keyPaths = (value: unknown, prefix = ""): Array<string> => {
  if (Array.isArray(value)) return value.flatMap((item) => (isDict(item) ? keyPaths(item, `${prefix}[]`) : []))
  if (!isDict(value)) return []
  return Object.entries(value).flatMap(([key, child]) => {
    const here = prefix === "" ? key : `${prefix}.${key}`
    return [here, ...keyPaths(child, here)]
  })
}

const outboxxConfigPath = (): string => {
  const words = command("outboxx")
  const flag = words.findIndex((word) => word === "-c" || word === "--config")
  expect(flag).toBeGreaterThanOrEqual(0)
  return words[flag + 1]!
}

/** The repository file mounted at the path outboxx is told to read. */
const mountedConfigFile = (): string => {
  const target = outboxxConfigPath()
  const mount = mounts("outboxx").find((m) => m.target === target)
  if (mount === undefined) throw new Error(`nothing is mounted at ${target}`)
  return path.normalize(mount.source)
}

const config = () => parseToml(mountedConfigFile())

describe("docker-compose.yml", () => {
  it("defines postgres, kafka, jaeger and outboxx", () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(["postgres", "kafka", "jaeger", "outboxx"]))
  })

  it("runs PostgreSQL 15 with logical decoding", () => {
    expect(str(service("postgres").image, "postgres.image")).toMatch(/^postgres:15/)
    const words = command("postgres")
    expect(words).toContain("wal_level=logical")
    const setting = (name: string) => Number(words.find((w) => w.startsWith(`${name}=`))?.split("=")[1])
    expect(setting("max_replication_slots")).toBeGreaterThan(0)
    expect(setting("max_wal_senders")).toBeGreaterThan(0)
  })

  it("creates the outboxx role with REPLICATION in an init script that is mounted", () => {
    const init = mounts("postgres").find((m) => m.target.startsWith("/docker-entrypoint-initdb.d/"))
    expect(init).toBeDefined()
    const sql = readRepoFile(path.normalize(init!.source))
    const url = new URL(environment("outboxx").OUTBOXX_POSTGRES_URL!)
    expect(sql).toMatch(new RegExp(`CREATE ROLE ${url.username}\\b[^;]*\\bLOGIN\\b[^;]*\\bREPLICATION\\b`, "i"))
    expect(sql).toContain(`PASSWORD '${decodeURIComponent(url.password)}'`)
  })

  it("outboxx reads a config that exists in the repo and parses as TOML", () => {
    const file = mountedConfigFile()
    expect(fs.existsSync(path.join(repoRoot, file))).toBe(true)
    expect(Object.keys(config())).toEqual(
      expect.arrayContaining(["postgres", "kafka", "state", "http", "tracing", "log", "streams"])
    )
  })

  it("the compose config uses only keys the documented outboxx.toml has", () => {
    const documented = new Set(keyPaths(parseToml("outboxx.toml")))
    const unknown = keyPaths(config()).filter((key) => !documented.has(key))
    expect(unknown).toEqual([])
  })

  it("the config's brokers name the kafka service at its internal listener", () => {
    const env = environment("kafka")
    const advertised = env.KAFKA_ADVERTISED_LISTENERS!.split(",").map((l) => new URL(l.replace(/^[A-Z_]+:/, "kafka:")))
    const internal = advertised.find((listener) => listener.hostname === "kafka")
    expect(internal).toBeDefined()
    const listeners = env.KAFKA_LISTENERS!
    expect(listeners).toContain(`:${internal!.port}`)
    const brokers = list(dict(config().kafka, "kafka").brokers, "kafka.brokers")
    expect(brokers).toEqual([`kafka:${internal!.port}`])
  })

  it("the host reaches Kafka through a loopback-published external listener", () => {
    const env = environment("kafka")
    const external = env.KAFKA_ADVERTISED_LISTENERS!.split(",").find((l) => /\/\/localhost:\d+$/.test(l))
    expect(external).toBeDefined()
    const port = Number(external!.split(":").at(-1))
    expect(publishedPorts("kafka")).toContainEqual({ hostIp: "127.0.0.1", hostPort: port, containerPort: port })
  })

  it("OUTBOXX_POSTGRES_URL points at the postgres service, its port and database", () => {
    const url = new URL(environment("outboxx").OUTBOXX_POSTGRES_URL!)
    expect(url.hostname).toBe("postgres")
    // The postgres image listens on 5432 inside the network.
    expect(url.port).toBe("5432")
    expect(publishedPorts("postgres").map((p) => p.containerPort)).toContain(5432)
    expect(url.pathname).toBe(`/${environment("postgres").POSTGRES_DB}`)
  })

  it("Jaeger accepts OTLP/HTTP on 4318 and the config sends traces there", () => {
    expect(environment("jaeger").COLLECTOR_OTLP_ENABLED).toBe("true")
    expect(publishedPorts("jaeger").map((p) => p.containerPort)).toEqual(expect.arrayContaining([4318, 16686]))
    const endpoint = new URL(str(dict(config().tracing, "tracing").otlp_endpoint, "tracing.otlp_endpoint"))
    expect(endpoint.hostname).toBe("jaeger")
    expect(endpoint.port).toBe("4318")
  })

  it("Prometheus scrapes outboxx's HTTP port with the shipped alert rules; Grafana loads the dashboard", () => {
    for (const name of ["prometheus", "grafana"]) {
      for (const mount of mounts(name)) expect(fs.existsSync(path.join(repoRoot, mount.source)), `${name} mounts ${mount.source}`).toBe(true)
    }
    const prometheusConfig = dict(Yaml.parse(readRepoFile("deploy/prometheus/prometheus.compose.yml")), "prometheus config")
    const listen = str(dict(config().http, "http").listen, "http.listen")
    const target = str(
      list(dict(list(prometheusConfig.scrape_configs, "scrape_configs")[0], "scrape_configs[0]").static_configs, "static_configs")
        .flatMap((c) => list(dict(c, "static_config").targets, "targets"))[0],
      "target"
    )
    expect(target).toBe(`outboxx:${listen.split(":").at(-1)}`)
    const rulesPath = str(list(prometheusConfig.rule_files, "rule_files")[0], "rule_files[0]")
    expect(mounts("prometheus").map((m) => m.target)).toContain(rulesPath)
    expect(mounts("grafana").map((m) => m.target)).toContain("/var/lib/grafana/dashboards/outboxx.json")
  })

  it("publishes outboxx's HTTP listen port", () => {
    const listen = str(dict(config().http, "http").listen, "http.listen")
    const port = Number(listen.split(":").at(-1))
    expect(publishedPorts("outboxx").map((p) => p.containerPort)).toContain(port)
  })

  it("keeps outboxx's state directory on a volume", () => {
    const dir = str(dict(config().state, "state").dir, "state.dir")
    expect(mounts("outboxx").map((m) => m.target)).toContain(dir)
  })

  it("publishes every port on the host's loopback only", () => {
    for (const name of Object.keys(services)) {
      for (const port of publishedPorts(name)) expect(port.hostIp, `${name} ${port.hostPort}`).toBe("127.0.0.1")
    }
  })

  it("builds outboxx from the Dockerfile, whose entrypoint is the daemon", () => {
    expect(service("outboxx").build).toBe(".")
    const dockerfile = readRepoFile("Dockerfile")
    expect(dockerfile).toMatch(/^FROM node:24-slim/m)
    expect(dockerfile).toContain('ENTRYPOINT ["node", "dist/main.js"]')
  })
})
