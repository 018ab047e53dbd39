#!/usr/bin/env bash
# Installs what replayd builds and tests with on Debian or Ubuntu, and nothing when it is all there:
# libpcap-dev to build; tcpdump, tshark, swaks and aiosmtpd (a real SMTP server) for the tests.
set -euo pipefail

packages=(libpcap-dev pkg-config tcpdump tshark swaks iproute2 iptables python3 python3-pip)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
    echo "installing: aiosmtpd (PyPI)" >&2
    python3 -m pip install -q --disable-pip-version-check aiosmtpd >&2 2>/dev/null \
        || python3 -m pip install -q --disable-pip-version-check --user aiosmtpd >&2 2>/dev/null \
        || python3 -m pip install -q --disable-pip-version-check --break-system-packages aiosmtpd >&2
fi
