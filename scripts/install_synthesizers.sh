#!/usr/bin/env bash
# Install the speech synthesizers the corpus is made with (Debian): espeak-ng, flite, sox and
# MBROLA voices, enabling the contrib/non-free components MBROLA lives in.
#   scripts/install_synthesizers.sh test   # the few voices the test suite uses (tests/voices.txt)
#   scripts/install_synthesizers.sh all    # every MBROLA voice (make demo, make reference)
set -euo pipefail
which="${1:-all}"
test_voices=$(grep -v '^#' "$(dirname "$0")/../tests/voices.txt" | tr '\n' ' ')

have_all() {
  command -v espeak-ng >/dev/null && command -v flite >/dev/null && command -v mbrola >/dev/null || return 1
  if [ "$which" = test ]; then
    for v in $test_voices; do [ -d "/usr/share/mbrola/$v" ] || return 1; done
  else
    [ "$(ls /usr/share/mbrola 2>/dev/null | wc -l)" -ge 60 ] || return 1
  fi
}
have_all && exit 0

# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"
apt_update
if [ "$which" = test ]; then
  voices=$(for v in $test_voices; do printf 'mbrola-%s ' "$v"; done)
else
  voices=$(apt-cache search --names-only '^mbrola-[a-z][a-z][0-9]$' | awk '{print $1}' | tr '\n' ' ')
fi
# shellcheck disable=SC2086
apt_install espeak-ng flite sox mbrola $voices
echo "synthesizers ready: espeak-ng, flite, $(ls /usr/share/mbrola | wc -l) MBROLA voices"
