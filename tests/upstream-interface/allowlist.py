"""Differences from upstream that a series makes on purpose.

Each entry explains one kind of problem (see verdict.py) under narrow
conditions, and says why the difference is a fix, not a drift. Anything
an entry does not explain fails the row. Keep entries few and specific:
a broad one would hide the differences this check exists to find.
"""

import dataclasses

import passtargs


@dataclasses.dataclass
class Fix:
    key: str
    kinds: tuple            # the problem kinds it may explain
    reason: str
    applies: object         # (row, upstream Outcome, ours Outcome) -> bool


def _later_entry_names_address(args):
    """Does a --tcp-ports/--udp-ports value, as upstream joined it, hold an
    address or interface ('/') on an entry after the first?"""
    for opt, value in zip(args, args[1:]):
        if opt in ('--tcp-ports', '--udp-ports', '-t', '-u'):
            if any('/' in entry for entry in value.split(',')[1:]):
                return True
    return False


def _address_on_later_entry(row, up, ours):
    # Upstream joins the entries with ',' and passt refuses the joined
    # string (its message quotes a string the user never wrote); ours
    # refuses before starting passt and names the entry. Either way no
    # netdev: the fix changes only which message the user gets.
    return (up.state == 'failed' and bool(up.runs) and
            _later_entry_names_address(
                passtargs.split(up.runs[0], row.params())[0]) and
            ours.state == 'failed' and not ours.runs and
            'only the first entry may' in ours.message)


def _order_only(row, up, ours):
    # The same options and values, in another order: passt reads its
    # options into separate settings, so order can only matter for an
    # option given twice, which this excludes.
    if not up.runs or not ours.runs:
        return False
    a = passtargs.groups(passtargs.split(up.runs[0], row.params())[0])
    b = passtargs.groups(passtargs.split(ours.runs[0], row.params())[0])
    names = [g[0] for g in a]
    return sorted(a) == sorted(b) and len(names) == len(set(names))


def _refused_because(text):
    """Ours refuses the line before starting passt, saying @text."""
    def applies(row, up, ours):
        return (ours.state == 'failed' and not ours.runs and
                text in ours.message)
    return applies


ADDRESS_ON_LATER_ENTRY = Fix(
    'address-on-later-entry', ('outcome', 'argv'),
    "patches-upstream/3-passt-behaviour/0005, patches/0029: a "
    "tcp-ports/udp-ports entry after the first that names an address is "
    "refused before passt starts, naming the entry; upstream joins the "
    "list and passt refuses the whole string",
    _address_on_later_entry)

BOTH_FAMILIES_OFF = Fix(
    'both-families-off', ('outcome', 'argv'),
    "patches/0005: ipv4=off with ipv6=off is refused, naming both; "
    "upstream hands passt --ipv6-only --ipv4-only, and passt keeps one",
    _refused_because("'ipv4' and 'ipv6' cannot both be off"))

OWNED_PARAM = Fix(
    'owned-param', ('outcome', 'argv'),
    "patches/0005: a param that passt would take for an option QEMU sets "
    "itself (--fd) is refused, naming it; upstream passes it on, and "
    "passt takes QEMU's own --fd after it",
    _refused_because('an option QEMU sets itself'))

ORDER_ONLY = Fix(
    'order-only', ('argv',),
    "the 10.0 series builds passt's arguments in an order of its own; "
    "the same options and values, none given twice",
    _order_only)


# by series: what build/qemu-upstream-build and build/qemu-build carry
FIXES = {
    'upstream': [ADDRESS_ON_LATER_ENTRY],
    '10.0': [ADDRESS_ON_LATER_ENTRY, BOTH_FAMILIES_OFF, OWNED_PARAM,
             ORDER_ONLY],
}
