// Reads a topic from the start the way a Kafka Connect sink sees it: each
// record's key and value through a Connect converter (Apicurio's AvroConverter
// for the avro format's Confluent wire format), printed as one JSON line per
// record through Kafka's JsonConverter with schemas, so a test can compare the
// Connect schemas and values with what the debezium format writes.
//
//   java -cp "<converter classpath>" ConnectRead.java <brokers> <topic> <count> <registry v2 url> <timeout ms>
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.json.JsonConverter;
import io.apicurio.registry.utils.converter.AvroConverter;

public class ConnectRead {
  public static void main(String[] args) throws Exception {
    String brokers = args[0], topic = args[1], registry = args[3];
    int count = Integer.parseInt(args[2]);
    long timeoutMs = Long.parseLong(args[4]);
    Map<String, Object> converterConfig = new HashMap<>();
    converterConfig.put("apicurio.registry.url", registry);
    converterConfig.put("apicurio.registry.as-confluent", "true");
    converterConfig.put("apicurio.registry.use-id", "contentId");
    converterConfig.put("apicurio.registry.headers.enabled", "false");
    AvroConverter keyConverter = new AvroConverter();
    keyConverter.configure(converterConfig, true);
    AvroConverter valueConverter = new AvroConverter();
    valueConverter.configure(converterConfig, false);
    JsonConverter json = new JsonConverter();
    json.configure(Map.of("schemas.enable", "true", "converter.type", "value"));

    Properties props = new Properties();
    props.put("bootstrap.servers", brokers);
    props.put("key.deserializer", ByteArrayDeserializer.class.getName());
    props.put("value.deserializer", ByteArrayDeserializer.class.getName());
    props.put("enable.auto.commit", "false");
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      List<TopicPartition> partitions = new ArrayList<>();
      consumer.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      int seen = 0;
      long deadline = System.currentTimeMillis() + timeoutMs;
      while (seen < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
          SchemaAndValue key = keyConverter.toConnectData(topic, record.key());
          SchemaAndValue value = valueConverter.toConnectData(topic, record.value());
          String keyJson = record.key() == null ? "null" : new String(json.fromConnectData(topic, key.schema(), key.value()), "UTF-8");
          String valueJson = record.value() == null ? "null" : new String(json.fromConnectData(topic, value.schema(), value.value()), "UTF-8");
          System.out.println("{\"key\":" + keyJson + ",\"value\":" + valueJson + "}");
          seen++;
        }
      }
      if (seen < count) {
        System.err.println("read " + seen + " of " + count + " records from " + topic + " before the timeout");
        System.exit(3);
      }
    }
  }
}
