#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the browser tests, installing
# it with apt-get when it is missing. Prints the binary's path.
set -euo pipefail
for bin in chromium chromium-browser; do
  if command -v "$bin" >/dev/null 2>&1; then
    echo "chromium: $(command -v "$bin")"
    exit 0
  fi
done
echo "chromium: not found; installing Debian's chromium"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "chromium: installation failed" >&2; exit 1; }
echo "chromium: $(command -v chromium)"
