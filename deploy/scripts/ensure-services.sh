#!/usr/bin/env bash
# Make sure the local PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) the tests use are up.
# Starts them with the machine's own commands when they are installed but stopped; never fails
# here: the tests themselves decide (fail under CI=true, skip with a reason elsewhere).
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "ensure-services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  else
    echo "ensure-services: PostgreSQL is not installed here"
  fi
fi

if ! port_open 6379; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "ensure-services: starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  else
    echo "ensure-services: Redis is not installed here"
  fi
fi

for _ in $(seq 1 50); do
  port_open 5432 && port_open 6379 && exit 0
  sleep 0.2
done
port_open 5432 || echo "ensure-services: PostgreSQL is still down"
port_open 6379 || echo "ensure-services: Redis is still down"
exit 0
