"""MQTT: the broker's address, a client, and the listener (``flask telemetry listen``),
the door between the broker and the telemetry service (DESIGN.md, "Live devices").

The listener:
- subscribes to ``vpp/plants/+/telemetry`` at QoS 1 with a persistent session (MQTT 5,
  ``clean_start`` false, a day's session expiry) and acknowledges each message only
  after the batch it came in is **committed**: a listener killed at any moment loses
  nothing the broker acknowledged to a device; the broker hands the unacknowledged
  messages to the next listener, and a reading stored twice is stored once.
  (Set ``max_queued_messages 0`` in mosquitto.conf so the broker keeps every message
  while no listener runs: its default keeps 1,000.)
- publishes each telemetry plant's setpoint, retained, QoS 1, to
  ``vpp/plants/<id>/setpoint`` whenever it changes (a dispatch committed, a schedule's
  interval begun, the fleet changed), checked every 0.1 s;
- runs the silence check (``vpp.worker.housekeep_once``) every quarter of
  ``VPP_STALE_AFTER_S``.
"""

import logging
import queue
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as paho
import sqlalchemy as sa
from flask import Flask
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from vpp.config import ConfigError
from vpp.errors import Conflict
from vpp.extensions import db
from vpp.services import fleet_cache, telemetry
from vpp.transactions import transaction

log = logging.getLogger(__name__)

TELEMETRY_TOPICS = "vpp/plants/+/telemetry"
TOPIC_PLANT = re.compile(r"^vpp/plants/([0-9]{1,10})/telemetry$")
SESSION_EXPIRY_S = 24 * 3600
# Messages taken into one transaction, and how long the first waits for company.
BATCH_MAX = 5_000
BATCH_WAIT_S = 0.1
SETPOINT_CHECK_S = 0.1
INFLIGHT = 200


def setpoint_topic(plant_id: int) -> str:
    return f"vpp/plants/{plant_id}/setpoint"


def telemetry_topic(plant_id: int) -> str:
    return f"vpp/plants/{plant_id}/telemetry"


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None = None
    password: str | None = None


def broker(url: str) -> Broker:
    """``mqtt://[user:password@]host[:port]`` as a ``Broker``; ``ConfigError`` else."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ConfigError(f"MQTT_URL must look like mqtt://host:1883, not {url!r}.")
    try:
        port = parts.port or 1883
    except ValueError:
        raise ConfigError(f"MQTT_URL has a port that is not a number: {url!r}.") from None
    return Broker(parts.hostname, port, parts.username, parts.password)


def client(
    where: Broker,
    client_id: str | None = None,
    *,
    persistent: bool = False,
    manual_ack: bool = False,
    on_message=None,
) -> paho.Client:
    """A connected MQTT 5 client with its network loop running in its own thread.
    ``on_message`` is in place before it connects: a resumed session's messages come
    at once, and one that came before it would never be handed over (nor acknowledged)."""
    mqtt = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"vpp-{uuid.uuid4().hex[:12]}",
        protocol=paho.MQTTv5,
        manual_ack=manual_ack,
    )
    if where.username:
        mqtt.username_pw_set(where.username, where.password)
    mqtt.max_inflight_messages_set(INFLIGHT)
    mqtt.max_queued_messages_set(0)
    properties = Properties(PacketTypes.CONNECT)
    properties.ReceiveMaximum = 65_535
    if persistent:
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
    connected = threading.Event()
    refused: list[str] = []
    resumed: list[bool] = []

    def on_connect(_client, _userdata, flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
        resumed.append(bool(flags.session_present))
        connected.set()

    mqtt.on_connect = on_connect
    if on_message is not None:
        mqtt.on_message = on_message
    try:
        mqtt.connect(
            where.host, where.port, keepalive=30, clean_start=not persistent, properties=properties
        )
    except OSError as exc:
        raise ConfigError(
            f"Cannot reach the MQTT broker at {where.host}:{where.port}: {exc}"
        ) from exc
    mqtt.loop_start()
    if not connected.wait(10) or refused:
        mqtt.loop_stop()
        reason = refused[0] if refused else "no answer in 10 s"
        raise ConfigError(f"The MQTT broker at {where.host}:{where.port} refused us: {reason}")
    # A resumed session keeps its subscriptions: its messages are already on their way.
    mqtt.vpp_session_resumed = bool(resumed and resumed[0])
    return mqtt


@dataclass
class Counters:
    stored: int = 0
    received: int = 0
    refused: int = 0
    published: int = 0
    started: float = field(default_factory=time.monotonic)


class Listener:
    """Readings in from the broker, setpoints out to it, silence checked."""

    def __init__(self, app: Flask, url: str, client_id: str = "vpp-listener"):
        self.app = app
        self.where = broker(url)
        self.client_id = client_id
        self.messages: queue.Queue = queue.Queue()
        self.counters = Counters()
        self.published: dict[int, Any] = {}
        self.setpoint_key: tuple | None = None
        self.mqtt: paho.Client | None = None

    def _on_message(self, _client, _userdata, message) -> None:
        self.messages.put(message)

    def _on_connect(self, mqtt, _userdata, _flags, reason_code, _properties) -> None:
        if not reason_code.is_failure:
            mqtt.subscribe(TELEMETRY_TOPICS, qos=1)

    def start(self) -> None:
        """Connect and subscribe; returns once the broker has confirmed the
        subscription (from then on, nothing published is missed)."""
        self.mqtt = client(
            self.where,
            self.client_id,
            persistent=True,
            manual_ack=True,
            on_message=self._on_message,
        )
        self.mqtt.on_connect = self._on_connect
        subscribed = threading.Event()
        self.mqtt.on_subscribe = lambda *_args: subscribed.set()
        self.mqtt.subscribe(TELEMETRY_TOPICS, qos=1)
        # A new session waits for the broker's confirmation; a resumed one already has
        # the subscription (and its queued messages may arrive before the SUBACK).
        if not self.mqtt.vpp_session_resumed and not subscribed.wait(10):
            raise ConfigError("The MQTT broker did not confirm the subscription in 10 s.")
        log.info(
            "telemetry: subscribed to %s at %s:%s as %s",
            TELEMETRY_TOPICS,
            self.where.host,
            self.where.port,
            self.client_id,
        )

    def stop(self) -> None:
        if self.mqtt is not None:
            self.mqtt.disconnect()
            self.mqtt.loop_stop()

    def _take_batch(self, wait_s: float) -> list:
        try:
            batch = [self.messages.get(timeout=wait_s)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + BATCH_WAIT_S
        while len(batch) < BATCH_MAX:
            left = deadline - time.monotonic()
            try:
                if left > 0:
                    batch.append(self.messages.get(timeout=left))
                else:
                    batch.append(self.messages.get_nowait())
            except queue.Empty:
                break
        return batch

    @staticmethod
    def _items(batch: list) -> list[dict]:
        """Each message as readings (an object, or an array of them, for the plant its
        topic names); a message that is not gives an item the checks refuse."""
        items: list[dict] = []
        for message in batch:
            match = TOPIC_PLANT.match(message.topic)
            try:
                body = orjson.loads(message.payload)
            except orjson.JSONDecodeError:
                body = None
            for reading in body if isinstance(body, list) else [body]:
                if match and isinstance(reading, dict) and "plant_id" not in reading:
                    items.append({**reading, "plant_id": int(match.group(1))})
                else:
                    items.append({"plant_id": None})
        return items

    def store(self, batch: list) -> int:
        """Commit the batch's good readings (the bad ones are logged and dropped: sent
        again, they would be refused again), then acknowledge every message."""
        now = telemetry.now_utc()
        readings, problems = telemetry.check_readings(self._items(batch), now)
        if problems:
            self.counters.refused += len({key.split(".")[0] for key in problems})
            first = next(iter(problems.items()))
            log.warning("telemetry: %d reading(s) refused, e.g. %s", len(problems), first)
        with transaction():
            stored = telemetry.ingest(readings, now)
        for message in batch:
            self.mqtt.ack(message.mid, message.qos)
        self.counters.received += len(batch)
        self.counters.stored += stored
        return stored

    def publish_setpoints(self, force: bool = False) -> int:
        """Publish, retained, every setpoint that differs from what this listener last
        published (all of them at its start)."""
        source = telemetry.current_source()
        key = (source.name if source else None, fleet_cache.fleet_version())
        if key == self.setpoint_key and not force:
            return 0
        values = telemetry.source_setpoints(source) if source else {}
        db.session.rollback()
        since = source.since.isoformat() if source else None
        name = source.name if source else None
        sent = 0
        for plant_id in sorted(set(values) | set(self.published)):
            value = values.get(plant_id)
            if plant_id in self.published and self.published[plant_id] == value:
                continue
            body = {
                "setpoint_kw": value,
                "since": since if value is not None else None,
                "source": name if value is not None else None,
            }
            self.mqtt.publish(setpoint_topic(plant_id), orjson.dumps(body), qos=1, retain=True)
            self.published[plant_id] = value
            sent += 1
        self.setpoint_key = key
        self.counters.published += sent
        if sent:
            log.info("telemetry: %d setpoint(s) published from %s", sent, name)
        return sent

    def run(self, stop: threading.Event, report=None) -> None:
        """Until ``stop`` is set: store readings, publish setpoints, check silence."""
        from vpp.worker import Housekeeping

        keeping = Housekeeping(self.app)
        next_setpoints = 0.0
        pending: list = []
        with self.app.app_context():
            self.start()
            try:
                while not stop.is_set():
                    if not pending:
                        pending = self._take_batch(SETPOINT_CHECK_S)
                    if pending:
                        try:
                            self.store(pending)
                            pending = []
                        except (sa.exc.SQLAlchemyError, Conflict):
                            # The database is out, or a plant went meanwhile (checked
                            # again against the fleet as it now is): the batch is kept
                            # and nothing of it acknowledged until it is stored.
                            db.session.rollback()
                            log.exception("telemetry: batch not stored; trying again")
                            stop.wait(1.0)
                    moment = time.monotonic()
                    try:
                        if moment >= next_setpoints:
                            self.publish_setpoints()
                            next_setpoints = moment + SETPOINT_CHECK_S
                        keeping.run_if_due()
                    except sa.exc.SQLAlchemyError:
                        db.session.rollback()
                        log.exception("telemetry: database unavailable; trying again")
                    if report is not None:
                        report(self.counters)
                    db.session.remove()
            finally:
                self.stop()
