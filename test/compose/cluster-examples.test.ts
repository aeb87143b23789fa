/**
 * The cluster examples users copy: examples/cluster (docker compose, three
 * runners) and deploy/kubernetes/outboxx-cluster.yaml. Nothing runs them in
 * CI, so this checks that their pieces fit: the runner file and the pipeline
 * files decode with outboxx's own loader (in the environment the container
 * gives them), the services and ports agree with the files, the probes hit
 * the runner's endpoints, and the secrets cover every ${VAR} the files use.
 */
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Yaml from "effect/encoding/Yaml"
import { describe, expect, it } from "vitest"
import { loadClusterSettings } from "../../src/cluster/settings.js"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), "utf8")

type Dict = Record<string, any>

describe("examples/cluster (docker compose)", () => {
  const dir = "examples/cluster"
  const compose = Yaml.parse(read(`${dir}/docker-compose.yml`)) as Dict
  const runners = ["runner1", "runner2", "runner3"]

  it("runs three runners of one image, each named as its service, with time to hand over", () => {
    for (const name of runners) {
      const service = compose.services[name] as Dict
      expect(service.command).toEqual(["run", "-c", "/etc/outboxx/runner.toml"])
      expect(service.environment.RUNNER_HOST).toBe(name)
      // Snapshot signals are verified with one key on whichever runner has the pipeline.
      expect(service.environment.OUTBOXX_SIGNAL_KEY).toBe(compose.services.runner1.environment.OUTBOXX_SIGNAL_KEY)
      expect(service.environment.OUTBOXX_SIGNAL_KEY.length).toBeGreaterThanOrEqual(32)
      expect(service.volumes).toEqual(["./runner.toml:/etc/outboxx/runner.toml:ro", "./pipelines:/etc/outboxx/pipelines:ro"])
      expect(Number.parseInt(service.stop_grace_period, 10)).toBeGreaterThanOrEqual(30)
      for (const port of service.ports as Array<string>) expect(port).toMatch(/^127\.0\.0\.1:\d+:9464$/)
    }
    for (const port of compose.services.postgres.ports as Array<string>) expect(port).toMatch(/^127\.0\.0\.1:/)
  })

  it("has a runner file and pipelines outboxx loads, on databases the init script creates", async () => {
    const settings = await Effect.runPromise(
      loadClusterSettings(path.join(repoRoot, dir, "runner.toml"), { RUNNER_HOST: "runner2" })
    )
    expect(settings.cluster.runner).toEqual({ host: "runner2", port: 34431 })
    expect(settings.http.listen?.port).toBe(9464)
    expect(settings.pipelines.map((p) => p.name)).toEqual(["inventory", "shop"])
    const init = read(`${dir}/postgres-init.sh`)
    const control = new URL(Redacted.value(settings.cluster.url))
    expect(control.hostname).toBe("postgres")
    expect(init).toContain(`CREATE DATABASE ${control.pathname.slice(1)} OWNER ${control.username}`)
    for (const p of settings.pipelines) {
      // Their state is shared in the control database, keyed by the pipeline's name.
      expect(p.settings.state.backend).toBe("postgres")
      expect(Redacted.value(p.settings.state.url!)).toBe(Redacted.value(settings.cluster.url))
      const url = new URL(Redacted.value(p.settings.postgres.url))
      expect(url.hostname).toBe("postgres")
      const database = url.pathname.slice(1)
      if (database !== "shop") expect(init).toContain(`CREATE DATABASE ${database};`)
      expect(init).toContain(`-d ${database} <<'SQL'`)
      expect(p.settings.kafka.brokers).toEqual(["kafka:9092"])
    }
  })
})

describe("deploy/kubernetes/outboxx-cluster.yaml", () => {
  const docs = read("deploy/kubernetes/outboxx-cluster.yaml")
    .split(/^---$/m)
    .map((doc) => Yaml.parse(doc) as Dict)
  const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!
  const secret = find("Secret", "outboxx-control")
  const runnerMap = find("ConfigMap", "outboxx-runner")
  const pipelineMap = find("ConfigMap", "outboxx-pipelines")
  const deployment = find("Deployment", "outboxx")
  const container = deployment.spec.template.spec.containers[0] as Dict

  it("loads with outboxx's own loader in the pod's environment, every ${VAR} from the pod", async () => {
    const dir = fs.mkdtempSync(path.join(tmpdir(), "outboxx-k8s-"))
    fs.writeFileSync(path.join(dir, "runner.toml"), runnerMap.data["runner.toml"])
    const pipelinesDir = path.join(dir, "pipelines")
    fs.mkdirSync(pipelinesDir)
    for (const [file, text] of Object.entries(pipelineMap.data as Record<string, string>)) {
      fs.writeFileSync(path.join(pipelinesDir, file), text)
    }
    // The runner file names the mounted directory; point it at the copy.
    const runnerText = runnerMap.data["runner.toml"] as string
    expect(runnerText).toContain(`pipelines = "/etc/outboxx/pipelines"`)
    fs.writeFileSync(path.join(dir, "runner.toml"), runnerText.replace("/etc/outboxx/pipelines", pipelinesDir))
    const used = new Set(
      [runnerText, ...Object.values(pipelineMap.data as Record<string, string>)].flatMap((t) =>
        [...t.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!)
      )
    )
    const podEnv: Record<string, string> = { ...secret.stringData }
    for (const e of container.env as Array<Dict>) if (e.valueFrom?.fieldRef?.fieldPath === "status.podIP") podEnv[e.name] = "10.1.2.3"
    for (const name of used) expect(podEnv, `\${${name}} is set in the pod`).toHaveProperty(name)
    const settings = await Effect.runPromise(loadClusterSettings(path.join(dir, "runner.toml"), podEnv))
    expect(settings.cluster.runner).toEqual({ host: "10.1.2.3", port: 34431 })
    expect(settings.pipelines.length).toBeGreaterThan(0)
    // The container's ports are the runner's.
    const ports = Object.fromEntries((container.ports as Array<Dict>).map((p) => [p.name, p.containerPort]))
    expect(ports.cluster).toBe(settings.cluster.runner.port)
    expect(ports.http).toBe(settings.http.listen?.port)
  })

  it("probes the runner's endpoints, rolls one pod at a time and leaves time for the hand-over", () => {
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" })
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" })
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 1, maxSurge: 0 })
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30)
    expect(container.envFrom).toEqual([{ secretRef: { name: "outboxx-control" } }])
    expect(secret.stringData.OUTBOXX_SIGNAL_KEY.length).toBeGreaterThanOrEqual(32)
  })
})
