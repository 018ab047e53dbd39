#!/usr/bin/env bash
# Installs what replayd builds and tests with on Debian or Ubuntu, and nothing when it is all there:
# libpcap-dev to build; for the tests tcpdump, tshark, swaks and aiosmtpd (a real SMTP server), and
# the real servers and clients of the replay end-to-end tests: postfix, redis-server and redis-cli,
# dnsmasq and dig, curl; iproute2, iptables and nftables for the transparent-mode tests (network
# namespaces with REDIRECT rules); for the TLS tests openssl, dovecot (POP3 STARTTLS) and the Perl
# TLS modules swaks --tls needs.
# Works without systemd (containers, CI): nothing here starts a service; the tests start each server
# themselves, on loopback ports of their own.
set -euo pipefail

packages=(libpcap-dev pkg-config tcpdump tshark swaks iproute2 iptables nftables python3 python3-pip
          postfix redis-server redis-tools dnsmasq-base bind9-dnsutils curl
          openssl dovecot-pop3d libnet-ssleay-perl libio-socket-ssl-perl)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    # postfix asks what kind of mail system to configure; the tests bring their own configuration.
    echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
    echo "postfix postfix/mailname string localhost" | $sudo debconf-set-selections
    # Without systemd, package scripts that try to start a service must not fail the install:
    # policy-rc.d exit 101 tells invoke-rc.d not to start anything (removed again afterwards).
    policy=/usr/sbin/policy-rc.d created_policy=""
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
        created_policy=1
    fi
    status=0
    {
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >&2
    } || status=$?
    [[ -z $created_policy ]] || $sudo rm -f "$policy"
    ((status == 0)) || exit "$status"
fi

# The python3 first on PATH runs the test peers; it may not be Debian's (pyenv), so install there.
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
    echo "installing: aiosmtpd (PyPI)" >&2
    python3 -m pip install -q --disable-pip-version-check aiosmtpd >&2 2>/dev/null \
        || python3 -m pip install -q --disable-pip-version-check --user aiosmtpd >&2 2>/dev/null \
        || python3 -m pip install -q --disable-pip-version-check --break-system-packages aiosmtpd >&2
fi
