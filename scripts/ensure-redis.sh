#!/usr/bin/env bash
# Makes sure a Redis answers on 127.0.0.1:6379 for the tests: uses one that
# is already running, else starts one (installing Debian's redis-server with
# apt-get when it is missing). The Redis it starts keeps nothing on disk.
set -euo pipefail
host=127.0.0.1
port=6379

ping_redis() {
  local reply=""
  exec 3<>"/dev/tcp/$host/$port" 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3 || true
  exec 3<&- 3>&-
  [[ "$reply" == +PONG* ]]
}

if ping_redis; then
  echo "redis: answering on $host:$port"
  exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis: redis-server not found; installing Debian's redis-server"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi

if ! ping_redis; then
  echo "redis: starting redis-server on $host:$port"
  redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no \
    --dir "${TMPDIR:-/tmp}" --logfile "${TMPDIR:-/tmp}/kefu-test-redis.log"
fi
for _ in $(seq 1 100); do
  if ping_redis; then
    echo "redis: ready on $host:$port"
    exit 0
  fi
  sleep 0.1
done
echo "redis: could not start a Redis on $host:$port (see ${TMPDIR:-/tmp}/kefu-test-redis.log)" >&2
exit 1
