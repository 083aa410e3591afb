#!/usr/bin/env bash
# What the stack and the tests need from the machine, installed from Debian's packages when missing:
# Java 17+ and Maven (to fetch and run Apache Kafka), redis-server, PostgreSQL and pg_dump, Chromium
# (the waiting-room browser tests) and docker-compose (validates docker-compose.yml; needs no engine).
# `npm test` runs it first (the `pretest` script). Silent when all are present; otherwise one line
# says what it installs (apt's own output goes to .fluxgate/logs/install-prereqs.log). Needs root or sudo.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v pg_dump >/dev/null || need+=(postgresql-client)
# Headless Chromium for the waiting-room tests (driven by playwright-core).
command -v chromium >/dev/null || need+=(chromium)
command -v docker-compose >/dev/null || need+=(docker-compose)
# The edge bench's load generator (C): autocannon in Node tops out below the edge it measures.
command -v wrk >/dev/null || need+=(wrk)

[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
log=.fluxgate/logs/install-prereqs.log
mkdir -p "$(dirname "$log")"
echo "prerequisites: installing ${need[*]} from Debian's packages (log: $log)"
{
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
} >"$log" 2>&1 || {
  tail -n 20 "$log" >&2
  exit 1
}
