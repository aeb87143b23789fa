#!/usr/bin/env bash
# A Python virtual environment with Confluent's Kafka client and its Avro and
# schema-registry extras (confluent-kafka[avro,schemaregistry] from PyPI) and
# the CloudEvents SDK (cloudevents), for the tests that read the avro and
# cloudevents formats as Python consumers would.
#
#   bash dev/python.sh    # creates .dev/python once; prints OUTBOXX_TEST_PYTHON=...
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONFLUENT_KAFKA_VERSION="${OUTBOXX_DEV_CONFLUENT_KAFKA_VERSION:-2.16.1}"
CLOUDEVENTS_VERSION="${OUTBOXX_DEV_CLOUDEVENTS_VERSION:-2.2.0}"
VENV="$DEV_DIR/python"
STAMP="$VENV/.complete-confluent-kafka-$CONFLUENT_KAFKA_VERSION-cloudevents-$CLOUDEVENTS_VERSION"

if [[ ! -f "$STAMP" ]]; then
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
  python3 -c "import venv, ensurepip" 2>/dev/null || apt_install python3-venv
  dev_lock python
  if [[ ! -f "$STAMP" ]]; then
    say "creating $VENV with confluent-kafka[avro,schemaregistry]==$CONFLUENT_KAFKA_VERSION and cloudevents==$CLOUDEVENTS_VERSION (first run only)"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q --disable-pip-version-check \
      "confluent-kafka[avro,schemaregistry]==$CONFLUENT_KAFKA_VERSION" "cloudevents==$CLOUDEVENTS_VERSION" >&2 ||
      die "pip could not install confluent-kafka $CONFLUENT_KAFKA_VERSION and cloudevents $CLOUDEVENTS_VERSION"
    touch "$STAMP"
  fi
fi
echo "OUTBOXX_TEST_PYTHON=$VENV/bin/python"
