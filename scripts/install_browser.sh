#!/usr/bin/env bash
# Debian's headless browser for the demo page's test (tests/serve/test_browser.py): chromium and
# its chromedriver, from the distribution's packages; nothing downloads a browser at run time. A font
# is installed explicitly: without the recommended packages the page's text could render as nothing,
# and the test checks that its screenshot is drawn.
set -euo pipefail
command -v chromium >/dev/null && command -v chromedriver >/dev/null && [ -d /usr/share/fonts/truetype/dejavu ] && exit 0
# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"
apt_update
apt_install chromium chromium-driver fonts-dejavu-core
echo "browser ready: $(chromium --version)"
