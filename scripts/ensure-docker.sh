#!/usr/bin/env bash
# Make sure a Docker engine answers. On Debian as root: install Debian's
# docker.io if dockerd is missing, start dockerd, wait until it answers.
# Elsewhere: say, once, what to install. Idempotent; safe to run every time.
set -euo pipefail

answers() { docker info >/dev/null 2>&1; }

if answers; then
    exit 0
fi

if [ "$(id -u)" != "0" ] || [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null; then
    echo "agentctl needs a running Docker engine and none answers." >&2
    echo "Install Docker Engine (https://docs.docker.com/engine/install/) or Debian's docker.io, start it, and make sure 'docker info' works for this user." >&2
    exit 1
fi

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null || ! command -v jq >/dev/null; then
    echo "installing Debian's docker.io, debootstrap and jq ..." >&2
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ]; then
        apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap jq >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap jq >/dev/null; }
fi

if ! pgrep -x dockerd >/dev/null; then
    echo "starting dockerd ..." >&2
    mkdir -p /var/log
    nohup dockerd >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 120); do
    if answers; then
        exit 0
    fi
    sleep 0.5
done
echo "dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
