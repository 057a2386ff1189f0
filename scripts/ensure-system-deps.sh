#!/usr/bin/env bash
# Installs the Debian packages the project needs when they are missing.
# Idempotent: does nothing (and needs no network) when everything is there.
# With --ejabberd, also ejabberd (`make up SERVER=ejabberd`); with --test, also
# what the tests need (ejabberd: the end-to-end tests run on both servers;
# headless Chromium).
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v prosody >/dev/null 2>&1 || missing+=(prosody)
for option in "$@"; do
    case "$option" in
        --ejabberd|--test) [ -x /usr/sbin/ejabberdctl ] || missing+=(ejabberd) ;;&
        --test)
            # Headless Chromium renders the top-up page (tests/web/test_topup_chromium.py).
            command -v chromium >/dev/null 2>&1 || missing+=(chromium) ;;
    esac
done
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)

[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
# The packages' own services are not used: the local stack starts its own
# servers on free loopback ports, so a system Redis, Prosody or ejabberd that
# the packages may start does not get in the way.
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
