#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the native stack needs and this machine lacks:
# Java 17+ and Maven (to fetch and run Apache Kafka), redis-server, PostgreSQL, Chromium and docker-compose.
# Does nothing when all are present; needs root (or sudo) otherwise.
set -euo pipefail

need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
# Headless Chromium for the waiting-room browser tests (driven by playwright-core).
command -v chromium >/dev/null || need+=(chromium)
# Only to validate docker-compose.yml (docker-compose config -q needs no engine).
command -v docker-compose >/dev/null || need+=(docker-compose)
# The edge bench's load generator (C): autocannon in Node tops out below the edge it measures.
command -v wrk >/dev/null || need+=(wrk)

if [ ${#need[@]} -eq 0 ]; then
  echo "prerequisites: all present (java, mvn, redis-server, postgresql, chromium, docker-compose)"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "prerequisites: installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
