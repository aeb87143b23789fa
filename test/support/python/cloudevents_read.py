"""Reads a topic from the start with Confluent's Python client and parses
every record that is not a tombstone with the CloudEvents Python SDK's Kafka
protocol binding (cloudevents.core.bindings.kafka.from_kafka: it detects the
structured or binary content mode from the content-type header). Prints one
JSON line per record: {"mode", "attributes", "data", "key"}.

    python cloudevents_read.py <brokers> <topic> <count> <timeout s>
"""
import json
import sys
import time

from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka
from cloudevents.core.formats.json import JSONFormat
from confluent_kafka import Consumer

brokers, topic, count, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
consumer = Consumer({
    "bootstrap.servers": brokers,
    "group.id": f"outboxx-python-ce-{topic}-{time.time()}",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
})
consumer.subscribe([topic])
seen = 0
deadline = time.time() + timeout
while seen < count and time.time() < deadline:
    message = consumer.poll(0.5)
    if message is None:
        continue
    if message.error():
        raise SystemExit(f"consumer error: {message.error()}")
    seen += 1
    if message.value() is None:
        print(json.dumps({"tombstone": True, "key": message.key().decode() if message.key() else None}), flush=True)
        continue
    headers = {name: value for name, value in (message.headers() or [])}
    content_type = (headers.get("content-type") or b"").decode()
    event = from_kafka(KafkaMessage(headers=headers, key=message.key(), value=message.value()), JSONFormat())
    attributes = {name: (value.isoformat() if hasattr(value, "isoformat") else value) for name, value in event.get_attributes().items()}
    data = event.get_data()
    if isinstance(data, (bytes, bytearray)):
        data = json.loads(data)
    mode = "structured" if content_type.startswith("application/cloudevents") else "binary"
    print(json.dumps({"mode": mode, "attributes": attributes, "data": data, "key": message.key().decode() if message.key() else None}), flush=True)
consumer.close()
if seen < count:
    raise SystemExit(f"read {seen} of {count} records from {topic} before the timeout")
