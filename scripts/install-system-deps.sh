#!/usr/bin/env bash
# Debian packages the tests need (Caddy for the stack, Chromium for the
# dashboard's browser tests). Idempotent; silent when everything is there.
set -euo pipefail
need=()
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "install-system-deps: need root to install ${need[*]}" >&2; exit 1; fi
  echo "install-system-deps: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
