#!/usr/bin/env bash
# Debian's Mosquitto for the telemetry tests and demos: installs it when missing (as
# root; CI and these machines), else says how. Prints the path of the mosquitto binary.
# The tests start and stop their own broker on a free loopback port with
# scripts/mosquitto.conf; `make mqtt` runs one on 127.0.0.1:1883 for a demo.
set -euo pipefail
binary=$(command -v mosquitto || ls /usr/sbin/mosquitto 2>/dev/null || true)
if [ -z "$binary" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null
		binary=$(command -v mosquitto || echo /usr/sbin/mosquitto)
	else
		echo "Mosquitto is missing: run 'sudo apt-get install mosquitto' or set VPP_MOSQUITTO." >&2
		exit 1
	fi
fi
echo "$binary"
