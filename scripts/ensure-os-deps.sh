#!/usr/bin/env bash
# The OS packages the test suite needs, checked before anything else runs: PostgreSQL's server
# binaries (the tests start their own server) and a headless Chromium (the report page's tests).
# Missing ones are installed with apt-get when this is root on a Debian-like system; otherwise the
# script stops at once, printing the one command that installs them.
#
# Usage: scripts/ensure-os-deps.sh [postgresql] [chromium]   (both when none is named)
# Environment (for other layouts, and for testing this script's logic):
#   ABLATE_TEST_PG_BIN      folder holding initdb and pg_ctl (default: any /usr/lib/postgresql/*/bin)
#   ABLATE_TEST_CHROMIUM    the Chromium binary (default: /usr/bin/chromium, else `chromium` on PATH)
#   ABLATE_OS_DEPS_INSTALL  0: never install, only report (default 1: install when root + apt-get)
#   ABLATE_APT_GET          the apt-get to run (default: apt-get)
set -euo pipefail

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(postgresql chromium)

have_postgresql() {
  if [ -n "${ABLATE_TEST_PG_BIN:-}" ]; then
    [ -x "$ABLATE_TEST_PG_BIN/initdb" ] && [ -x "$ABLATE_TEST_PG_BIN/pg_ctl" ]
  else
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
  fi
}

have_chromium() {
  if [ -n "${ABLATE_TEST_CHROMIUM:-}" ]; then
    [ -x "$ABLATE_TEST_CHROMIUM" ]
  else
    [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1
  fi
}

packages=()
for dep in "${wanted[@]}"; do
  case "$dep" in
    postgresql) have_postgresql || packages+=(postgresql) ;;
    chromium) have_chromium || packages+=(chromium chromium-driver) ;;
    *) echo "ensure-os-deps: unknown dependency '$dep' (expected postgresql or chromium)" >&2; exit 2 ;;
  esac
done
[ ${#packages[@]} -eq 0 ] && exit 0

apt_get="${ABLATE_APT_GET:-apt-get}"
command_line="apt-get update && apt-get install -y ${packages[*]}"
if [ "${ABLATE_OS_DEPS_INSTALL:-1}" != "0" ] && [ "$(id -u)" -eq 0 ] && command -v "$apt_get" >/dev/null 2>&1; then
  echo "== installing OS packages the tests need: ${packages[*]}"
  "$apt_get" update -qq
  DEBIAN_FRONTEND=noninteractive "$apt_get" install -y -qq "${packages[@]}" >/dev/null
  exit 0
fi
echo "missing OS packages for the tests: ${packages[*]}" >&2
echo "install them (as root) and run again:  $command_line" >&2
exit 1
