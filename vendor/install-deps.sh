#!/bin/sh
# Install the Debian packages listed in vendor/packages.txt that are missing.
# As root: apt-get install (running 'apt-get update' once first when a package
# is unknown to the local lists, as on a fresh machine). Otherwise: print the
# exact command and fail, so the caller knows what to do.
set -eu
here=$(dirname "$0")
manifest="$here/packages.txt"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=""
for p in $(sed -e 's/#.*//' "$manifest" | awk 'NF { print $1 }'); do
    installed "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing packages:$missing (no apt-get here: install them by hand)" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: run as root: apt-get install -y$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
known=1
for p in $missing; do
    apt-cache show "$p" >/dev/null 2>&1 || { known=0; break; }
done
if [ "$known" -eq 0 ]; then
    echo "install-deps: package lists lack some of:$missing; running apt-get update" >&2
    apt-get update -qq
fi
echo "install-deps: installing$missing" >&2
apt-get install -y -qq --no-install-recommends $missing </dev/null >&2
