# Sourced by the install scripts: apt_update enables Debian's contrib and non-free components
# (MBROLA and uqm-voice live there) and refreshes the package lists; apt_install PACKAGE...
# installs quietly. Both as root or through sudo.
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

apt_update() {
  local src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && grep -q '^Components: main$' "$src"; then
    $sudo sed -i 's/^Components: main$/Components: main contrib non-free/' "$src"
  fi
  $sudo apt-get update -qq
}

apt_install() {
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
