"""A fleet's devices publishing readings (QoS 1, one message each) as fast as the broker
takes them, in a process of its own: ``python -m benchmarks.mqtt_publisher URL PLANTS
SECONDS`` publishes SECONDS seconds of PLANTS plants and prints how long it took."""

import sys
import time
from datetime import UTC, datetime, timedelta

import orjson

from vpp import mqtt


def publish_fleet(url: str, plants: int, seconds: int) -> tuple[int, float]:
    client = mqtt.client(mqtt.broker(url))
    base = datetime.now(UTC) - timedelta(minutes=30)
    began = time.perf_counter()
    infos = []
    for second in range(seconds):
        at = (base + timedelta(seconds=second)).isoformat()
        for plant_id in range(1, plants + 1):
            body = orjson.dumps({"at": at, "power_kw": 1.0 + plant_id % 3})
            infos.append(client.publish(mqtt.telemetry_topic(plant_id), body, qos=1))
    for info in infos:
        info.wait_for_publish(600)
    elapsed = time.perf_counter() - began
    client.disconnect()
    client.loop_stop()
    return len(infos), elapsed


if __name__ == "__main__":
    count, elapsed = publish_fleet(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    print(f"{count:,} acknowledged by the broker in {elapsed:.1f} s ({count / elapsed:,.0f}/s)")
