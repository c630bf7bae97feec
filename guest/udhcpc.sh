#!/bin/sh
# udhcpc event script (busybox has no default one in the guest): applies the
# lease and records it as key=value lines in /run/lease.$interface.
# udhcpc passes the lease in the environment: ip, mask (prefix length),
# subnet, router, dns, domain, search, mtu, hostname, opt81 (FQDN, hex).
# (for shellcheck: busybox ash has ${var:off:len})
# shellcheck shell=bash disable=SC2154,SC2059

# FQDN option: 3 bytes of flags/rcodes, then the name in DNS wire format.
fqdn_decode() {
    h=${1#??????} name=
    while [ ${#h} -ge 2 ]; do
        n=$((0x${h:0:2}))
        [ "$n" -eq 0 ] && break
        label=$(printf "$(echo "${h:2:$((n * 2))}" | sed 's/../\\x&/g')")
        name=${name:+$name.}$label
        h=${h:$((2 + n * 2))}
    done
    echo "$name"
}

case $1 in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    for r in $router; do
        # the gateway may be outside the assigned subnet
        ip route add "$r" dev "$interface" 2>/dev/null
        ip route add default via "$r" dev "$interface" && break
    done
    : > /etc/resolv.conf
    [ -n "$search$domain" ] && echo "search ${search:-$domain}" >> /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    [ -n "$hostname" ] && hostname "$hostname"
    fqdn=
    [ -n "$opt81" ] && fqdn=$(fqdn_decode "$opt81")
    {
        echo "ip=$ip"
        echo "prefix=$mask"
        echo "mask=$subnet"
        echo "router=$router"
        echo "dns=$dns"
        echo "domain=$domain"
        echo "search=$search"
        echo "mtu=$mtu"
        echo "hostname=$hostname"
        echo "fqdn=$fqdn"
        echo "lease=$lease"
        echo "server=$serverid"
    } > "/run/lease.$interface"
    ;;
esac
exit 0
