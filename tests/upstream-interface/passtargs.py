"""passt's arguments with what each QEMU decides on its own taken out.

How QEMU runs passt and reaches it is not part of -netdev passt's
interface: upstream daemonizes passt and hands it a socket as fd 3 with a
pid file in TMPDIR; our series keeps passt in the foreground as a child,
gives it a control socket, and in vhost-user mode a socket path for one
client. Those options, and their values, are set aside; everything the
user's options turned into must match.
"""

# passt's options that only carry QEMU's plumbing: name -> takes a value
PLUMBING = {
    '--fd': True, '-F': True,
    '--socket': True, '--socket-path': True, '-s': True,
    '--foreground': False, '-f': False,
    '--daemonize': False,               # not passt's; in case a QEMU adds it
    '--pid': True, '-P': True,
    '--conf-path': True, '-c': True,
    '--repair-path': True,
    '--one-off': False, '-1': False,
}


def split(args, user=()):
    """(kept, plumbing): @args without QEMU's plumbing, and that plumbing
    as the option names only (their values vary from run to run). The
    first verbatim run of @user (the row's 'param' entries) is the
    user's, kept even where it names a plumbing option."""
    start = _find(args, list(user))
    kept, plumbing = [], []
    i = 0
    while i < len(args):
        if start is not None and i == start:
            kept += args[i:i + len(user)]
            i += len(user)
            continue
        arg = args[i]
        name = arg.split('=', 1)[0] if arg.startswith('--') else arg
        if name in PLUMBING:
            plumbing.append(name)
            # '--pid=FILE' carries its value; '--pid FILE' takes the next
            i += 2 if PLUMBING[name] and '=' not in arg else 1
            continue
        kept.append(arg)
        i += 1
    return kept, plumbing


def _find(args, tokens):
    n = len(tokens)
    if not n:
        return None
    return next((i for i in range(len(args) - n + 1)
                 if args[i:i + n] == tokens), None)


def groups(args):
    """@args as (option, its values...) tuples, for telling a change of
    order from a change of content. A value never starts with '-' in the
    table's rows, which is all this needs to hold for."""
    out = []
    for arg in args:
        if arg.startswith('-') or not out:
            out.append((arg,))
        else:
            out[-1] = out[-1] + (arg,)
    return out


def carries(args, tokens):
    """Does @args hold @tokens (a row's 'param' entries) verbatim, in one
    run? upstream appends them so, and a user who writes them relies on
    passt seeing exactly that."""
    return _find(args, list(tokens)) is not None
