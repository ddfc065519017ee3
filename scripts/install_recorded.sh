#!/usr/bin/env bash
# Install the Debian packages of recorded human speech that `mirnet corpus recorded` reads:
# uqm-voice (contrib), ktuberling-data, klettres-data and pocketsphinx-testdata. No other package
# of recorded speech is used: those are kept for independent evaluation (docs/corpora.md).
set -euo pipefail
packages="uqm-voice ktuberling-data klettres-data pocketsphinx-testdata"

have_all() {
  for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1
  done
}
have_all && exit 0

# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"
apt_update
# shellcheck disable=SC2086
apt_install $packages
echo "recorded speech ready: $packages"
