"""A fleet of simulated devices (``flask devices simulate``): each follows its setpoint
within its ramp limits, with some noise on what it reports, and reports every interval
over MQTT or HTTP, as real units would. Some can be told to fall silent for a while.

It reads the plants it plays from the database once at its start (their limits); from
then on it only speaks to the VPP as devices do: readings to ``vpp/plants/<id>/telemetry``
(or ``POST /api/telemetry/``), setpoints from the retained ``vpp/plants/<id>/setpoint``
(or ``GET /api/telemetry/setpoints``).
"""

import json
import logging
import random
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from vpp import mqtt

log = logging.getLogger(__name__)
SETPOINT_TOPICS = "vpp/plants/+/setpoint"
SETPOINT_PLANT = re.compile(r"^vpp/plants/([0-9]+)/setpoint$")
HTTP_BATCH = 1_000
SETPOINT_PAGE = 10_000


@dataclass
class Device:
    plant_id: int
    max_kw: float
    lowest_kw: float  # minus the charging rate for a store, else 0
    ramp_up: float | None  # kW per minute; None: no limit
    ramp_down: float | None
    output_kw: float = 0.0
    setpoint_kw: float | None = None
    energy_kwh: float | None = None
    soc_kwh: float | None = None

    def step(self, dt_s: float) -> None:
        """Move towards the setpoint for ``dt_s`` seconds, no faster than the ramps."""
        target = self.output_kw if self.setpoint_kw is None else self.setpoint_kw
        target = min(max(target, self.lowest_kw), self.max_kw)
        change = target - self.output_kw
        limit = self.ramp_up if change > 0 else self.ramp_down
        if limit is not None:
            step = limit * dt_s / 60
            change = max(-step, min(step, change))
        self.output_kw += change
        if self.energy_kwh:
            self.soc_kwh = min(
                max(self.soc_kwh - self.output_kw * dt_s / 3600, 0.0), self.energy_kwh
            )

    def reading(self, noise: float, rng: random.Random, at: str) -> dict:
        measured = self.output_kw + rng.gauss(0.0, noise * self.max_kw) if noise else self.output_kw
        # Never a value the VPP would refuse as impossible.
        measured = min(max(measured, self.lowest_kw), self.max_kw)
        body = {"at": at, "power_kw": round(measured, 4)}
        if self.energy_kwh:
            body["soc_kwh"] = round(self.soc_kwh, 4)
        return body


def devices_from(plants: list[dict], outputs: dict[int, float]) -> list[Device]:
    devices = []
    for plant in plants:
        store = bool(plant["energy_capacity_kwh"])
        lowest = -(plant["max_charge_kw"] or plant["max_capacity"]) if store else 0.0
        devices.append(
            Device(
                plant_id=plant["id"],
                max_kw=plant["max_capacity"],
                lowest_kw=lowest,
                ramp_up=plant["ramp_up_kw_per_min"],
                ramp_down=plant["ramp_down_kw_per_min"],
                output_kw=outputs.get(plant["id"], 0.0),
                energy_kwh=plant["energy_capacity_kwh"],
                soc_kwh=plant["soc_kwh"] if store else None,
            )
        )
    return devices


@dataclass
class DropOut:
    """``count`` devices stop reporting ``after_s`` seconds in, for ``for_s`` seconds."""

    count: int = 0
    after_s: float = 0.0
    for_s: float = 0.0

    def silent(self, index: int, elapsed_s: float) -> bool:
        return index < self.count and self.after_s <= elapsed_s < self.after_s + self.for_s


class Simulator:
    def __init__(
        self,
        devices: list[Device],
        *,
        transport: str,
        mqtt_url: str | None = None,
        api_url: str | None = None,
        token: str | None = None,
        interval_s: float = 1.0,
        noise: float = 0.01,
        drop: DropOut | None = None,
        seed: int = 0,
    ):
        self.devices = devices
        self.by_id = {d.plant_id: d for d in devices}
        self.transport = transport
        self.mqtt_url, self.api_url, self.token = mqtt_url, api_url, token
        self.interval_s = interval_s
        self.noise = noise
        self.drop = drop or DropOut()
        self.rng = random.Random(seed)
        self.sent = 0
        self.client = None
        self.next_poll = 0.0

    # Setpoints in.
    def _on_setpoint(self, _client, _userdata, message) -> None:
        match = SETPOINT_PLANT.match(message.topic)
        device = self.by_id.get(int(match.group(1))) if match else None
        if device is None:
            return
        try:
            device.setpoint_kw = orjson.loads(message.payload).get("setpoint_kw")
        except (orjson.JSONDecodeError, AttributeError):
            log.warning("simulator: a setpoint that is not JSON on %s", message.topic)

    def _poll_setpoints(self) -> None:
        """Every page of ``GET /api/telemetry/setpoints``."""
        values: dict[str, float] = {}
        page = pages = 1
        while page <= pages:
            body = self._http(
                "GET", f"/api/telemetry/setpoints?page={page}&per_page={SETPOINT_PAGE}"
            )
            values.update(body.get("setpoints", {}))
            pages = body.get("pages", 0)
            page += 1
        for device in self.devices:
            device.setpoint_kw = values.get(str(device.plant_id))

    def _http(self, method: str, path: str, payload=None) -> dict:
        request = urllib.request.Request(
            self.api_url.rstrip("/") + path,
            method=method,
            data=orjson.dumps(payload) if payload is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"{}")

    def start(self) -> None:
        if self.transport == "mqtt":
            self.client = mqtt.client(mqtt.broker(self.mqtt_url))
            self.client.on_message = self._on_setpoint
            self.client.subscribe(SETPOINT_TOPICS, qos=1)

    def stop(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()

    def tick(self, elapsed_s: float, dt_s: float) -> int:
        """Every device moves for ``dt_s``; those not silent report. How many did."""
        if self.transport == "http" and time.monotonic() >= self.next_poll:
            try:
                self._poll_setpoints()
            except (OSError, urllib.error.HTTPError, ValueError) as exc:
                log.warning("simulator: setpoints not read: %s", exc)
            self.next_poll = time.monotonic() + max(self.interval_s, 1.0)
        at = datetime.now(UTC).isoformat()
        reports = []
        for index, device in enumerate(self.devices):
            device.step(dt_s)
            if not self.drop.silent(index, elapsed_s):
                reports.append((device.plant_id, device.reading(self.noise, self.rng, at)))
        if self.transport == "mqtt":
            for plant_id, body in reports:
                self.client.publish(mqtt.telemetry_topic(plant_id), orjson.dumps(body), qos=1)
        else:
            for start in range(0, len(reports), HTTP_BATCH):
                batch = [
                    {"plant_id": pid, **body} for pid, body in reports[start : start + HTTP_BATCH]
                ]
                try:
                    self._http("POST", "/api/telemetry/", batch)
                except (OSError, urllib.error.HTTPError) as exc:
                    log.warning("simulator: readings not sent: %s", exc)
                    return 0
        self.sent += len(reports)
        return len(reports)

    def run(self, stop: threading.Event, duration_s: float | None = None, report=None) -> None:
        self.start()
        started = last = time.monotonic()
        try:
            while not stop.is_set():
                moment = time.monotonic()
                elapsed = moment - started
                if duration_s is not None and elapsed >= duration_s:
                    break
                self.tick(elapsed, moment - last if moment > last else self.interval_s)
                last = moment
                if report is not None:
                    report(self, elapsed)
                stop.wait(max(0.0, self.interval_s - (time.monotonic() - moment)))
        finally:
            self.stop()
