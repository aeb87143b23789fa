"""Reads a topic from the start with Confluent's Python client and its Avro
deserializer (confluent-kafka[avro,schemaregistry]): the schema of each key
and value is fetched from the registry by the id in the record. Prints one
JSON line per record: {"key": ..., "value": ...} with bytes as base64 and
decimals as their text, integers exact.

    python avro_read.py <brokers> <topic> <count> <registry url> <timeout s> [<user:password> <ca file>]
"""
import base64
import decimal
import json
import sys
import time

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

brokers, topic, count, registry, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
registry_config = {"url": registry}
if len(sys.argv) > 6:
    registry_config["basic.auth.user.info"] = sys.argv[6]
    registry_config["ssl.ca.location"] = sys.argv[7]
deserialize = AvroDeserializer(SchemaRegistryClient(registry_config))
consumer = Consumer({
    "bootstrap.servers": brokers,
    "group.id": f"outboxx-python-{topic}-{time.time()}",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
})
consumer.subscribe([topic])


def plain(value):
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, decimal.Decimal):
        return {"decimal": str(value)}
    if isinstance(value, float) and value != value:
        return "NaN"
    raise TypeError(f"cannot print {type(value)}")


seen = 0
deadline = time.time() + timeout
while seen < count and time.time() < deadline:
    message = consumer.poll(0.5)
    if message is None:
        continue
    if message.error():
        raise SystemExit(f"consumer error: {message.error()}")
    key = None if message.key() is None else deserialize(message.key(), SerializationContext(topic, MessageField.KEY))
    value = None if message.value() is None else deserialize(message.value(), SerializationContext(topic, MessageField.VALUE))
    print(json.dumps({"key": key, "value": value}, default=plain), flush=True)
    seen += 1
consumer.close()
if seen < count:
    raise SystemExit(f"read {seen} of {count} records from {topic} before the timeout")
