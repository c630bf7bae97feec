# Helpers for guest scripts: . /lib/guest-lib.sh
# (busybox sh; no udhcpc6 in bookworm's busybox, so IPv6 is SLAAC only)

# net_up IFACE: DHCPv4 on IFACE, configures address, route, MTU, DNS and
# prints the lease as key=value lines (ip, prefix, mask, router, dns, ...).
net_up() {
    ip link set "$1" up || return
    rm -f "/run/lease.$1"
    udhcpc -i "$1" -q -n -t 5 -T 1 -s /lib/udhcpc.sh \
        -O mtu -O search -O domain -O hostname -O 81 >/dev/null 2>&1
    [ -f "/run/lease.$1" ] || { echo "net_up: no DHCP lease on $1" >&2; return 1; }
    cat "/run/lease.$1"
}

# net_up6 IFACE [SECONDS]: waits for a SLAAC global address (router
# advertisement) and prints ip6=, prefix6=, router6= lines.
net_up6() {
    sysctl -qw "net.ipv6.conf.$1.accept_ra=1"
    ip link set "$1" up || return
    i=0
    while [ $i -lt $((${2:-10} * 10)) ]; do
        a=$(ip -6 addr show dev "$1" scope global | grep -v tentative |
            awk '$1 == "inet6" {print $2; exit}')
        r=$(ip -6 route show default dev "$1" | awk '{print $3; exit}')
        if [ -n "$a" ] && [ -n "$r" ]; then
            echo "ip6=${a%/*}"
            echo "prefix6=${a#*/}"
            echo "router6=$r"
            return 0
        fi
        usleep 100000
        i=$((i + 1))
    done
    echo "net_up6: no SLAAC address on $1" >&2
    return 1
}

# host_read VAR: read one line the host sent on the results port (fd 3).
host_read() {
    read -r "$1" <&3
}

# uptime_s: seconds since boot (for timing).
uptime_s() {
    cut -d' ' -f1 /proc/uptime
}

# lease_get IFACE KEY: one value of the last DHCP lease.
lease_get() {
    sed -n "s/^$2=//p" "/run/lease.$1"
}

# cmdline_get NAME: value of NAME=... on the kernel command line (words
# with a dot are not passed to init, so read them here).
cmdline_get() {
    for w in $(cat /proc/cmdline); do
        case $w in "$1="*) echo "${w#*=}"; return 0 ;; esac
    done
    return 1
}

# first_iface: the first non-loopback network interface (e.g. eth0).
first_iface() {
    for d in /sys/class/net/*; do
        [ "${d##*/}" = lo ] || { echo "${d##*/}"; return 0; }
    done
    return 1
}
