#!/usr/bin/env bash
# Install what the image build and the deploy checks need, from Debian's packages, only when
# missing: podman + runc (container runtime; crun fails on hybrid cgroup v1 hosts),
# debootstrap (the base image from Debian packages), nginx (the scale-out test's load balancer),
# prometheus (promtool tests the alert rules; the server scrapes a live gateway in tests/e2e),
# chromium + chromedriver (`make ui-test`: the /ui explorer in a headless browser).
# Needs root (CI runs as root); prints what it would do otherwise.
set -euo pipefail

declare -A wanted=([podman]=podman [runc]=runc [debootstrap]=debootstrap [nginx]=nginx-light
                   [promtool]=prometheus [chromium]=chromium [chromedriver]=chromium-driver)
packages=()
for tool in "${!wanted[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || packages+=("${wanted[$tool]}")
done
[ ${#packages[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-tools: missing ${packages[*]}; run as root: apt-get install ${packages[*]}" >&2
  exit 0
fi
echo "install-tools: apt-get install ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${packages[@]}" >/dev/null
