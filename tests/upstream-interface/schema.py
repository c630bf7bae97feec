"""The members of -netdev passt as a QEMU's query-qmp-schema describes them.

Introspection hides QAPI's type names behind numbers, and upstream renames
types between releases anyway (NetDevPasstOptions, NetdevPasstOptions,
PasstPortForward...), so members are compared by their resolved shape:
what a client may send, not what the type is called.
"""


def _index(schema):
    return {entry['name']: entry for entry in schema}


def passt_members(schema):
    """{member name: (shape, optional)} of netdev_add's 'passt' branch.

    Raises LookupError when the schema has no such branch: that QEMU has
    no passt backend at all.
    """
    types = _index(schema)
    netdev = types[types['netdev_add']['arg-type']]
    for variant in netdev.get('variants', ()):
        if variant['case'] == 'passt':
            options = types[variant['type']]
            return {m['name']: (shape(types, m['type']), 'default' in m)
                    for m in options['members']}
    raise LookupError("netdev_add has no 'passt' branch")


def shape(types, name, seen=()):
    """A hashable description of a type that ignores its name."""
    if name in seen:                    # a recursive type: stop at the loop
        return ('recursive',)
    seen = seen + (name,)
    entry = types[name]
    meta = entry['meta-type']
    if meta == 'builtin':
        # introspection already folds int8..uint64 into 'int'
        return ('builtin', entry['json-type'])
    if meta == 'enum':
        return ('enum', tuple(sorted(entry['values'])))
    if meta == 'array':
        return ('array', shape(types, entry['element-type'], seen))
    if meta == 'alternate':
        return ('alternate', tuple(sorted(
            (shape(types, m['type'], seen) for m in entry['members']),
            key=repr)))
    if meta == 'object':
        members = tuple(sorted(
            (m['name'], shape(types, m['type'], seen), 'default' in m)
            for m in entry['members']))
        variants = tuple(sorted(
            (v['case'], shape(types, v['type'], seen))
            for v in entry.get('variants', ())))
        return ('object', members, entry.get('tag'), variants)
    return (meta,)


def describe(s):
    """A shape as a reader would write the type."""
    kind = s[0]
    if kind == 'builtin':
        return s[1]
    if kind == 'array':
        return f'[{describe(s[1])}]'
    if kind == 'enum':
        return 'enum(' + '|'.join(s[1]) + ')'
    if kind == 'alternate':
        return 'alternate(' + ' or '.join(describe(x) for x in s[1]) + ')'
    if kind == 'object':
        inner = ', '.join(f"'{n}'{'' if not opt else '?'}: {describe(t)}"
                          for n, t, opt in s[1])
        return '{' + inner + '}' + (' +variants' if s[3] else '')
    return kind


def compare(upstream, ours):
    """Per upstream member: (name, problem or None, description); and the
    members only ours has."""
    results = []
    for name, (up_shape, up_opt) in sorted(upstream.items()):
        want = describe(up_shape) + (', optional' if up_opt else '')
        if name not in ours:
            results.append((name, 'missing from ours', want))
            continue
        our_shape, our_opt = ours[name]
        if our_shape != up_shape:
            results.append((name, f'ours takes {describe(our_shape)}', want))
        elif up_opt and not our_opt:
            # a member upstream lets a user leave out must stay optional
            results.append((name, 'required in ours', want))
        else:
            results.append((name, None, want))
    only_ours = sorted(set(ours) - set(upstream))
    return results, only_ours
