/**
 * TopicAdmin's calls on @platformatic/kafka's Admin client (the default
 * backend), with the same connection options as the producer.
 */
import { Admin, ConfigResourceTypes } from "@platformatic/kafka"
import type { ConnectionOptions } from "node:tls"
import type { KafkaSettings } from "../../config/model.js"
import type { AdminBackend } from "./AdminBackend.js"
import { classifyPlatformaticError } from "./errors.js"
import { kafkaTimeouts } from "./KafkaClient.js"
import { platformaticClientOptions } from "./platformaticTransport.js"

export const platformaticAdmin = (settings: KafkaSettings, tls: ConnectionOptions | undefined): AdminBackend => {
  const admin = new Admin({ ...platformaticClientOptions(settings, tls), timeout: kafkaTimeouts.adminTimeoutMs })
  return {
    listTopics: () => admin.listTopics(),
    createTopics: async (topics, partitions, replicationFactor) => {
      await admin.createTopics({ topics: [...topics], partitions, replicas: replicationFactor })
    },
    describeCluster: async () => {
      const metadata = await admin.metadata({ topics: [], forceUpdate: true })
      return {
        clusterId: metadata.id,
        brokers: Array.from(metadata.brokers, ([nodeId, { host, port }]) => ({ nodeId, host, port })),
        controller: metadata.controllerId >= 0 ? metadata.controllerId : null
      }
    },
    autoCreateTopics: async (nodeId) => {
      const [resource] = await admin.describeConfigs({
        resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: String(nodeId), configurationKeys: ["auto.create.topics.enable"] }]
      })
      const entry = resource?.configs.find((c) => c.name === "auto.create.topics.enable")
      return entry === undefined || entry.value === null ? undefined : entry.value === "true"
    },
    topicConfig: async (topics, name) => {
      const resources = await admin.describeConfigs({
        resources: topics.map((topic) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: [name] }))
      })
      const values = new Map<string, string>()
      for (const resource of resources) {
        const value = resource.configs.find((c) => c.name === name)?.value
        if (value !== undefined && value !== null) values.set(resource.resourceName, value)
      }
      return values
    },
    brokerConfig: async (nodeId, name) => {
      const [resource] = await admin.describeConfigs({
        resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: String(nodeId), configurationKeys: [name] }]
      })
      return resource?.configs.find((c) => c.name === name)?.value ?? undefined
    },
    classify: classifyPlatformaticError,
    close: () => admin.close().catch(() => undefined)
  }
}
