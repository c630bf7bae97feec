"""TAP for the wrappers that count results, and a table for people."""

import shlex

import passtargs

MESSAGE_CHARS = 90


class Tap:
    def __init__(self, out):
        self.out = out
        self.n = 0
        self.failed = 0

    def result(self, ok, text, diagnostics=()):
        self.n += 1
        self.failed += not ok
        print(f"{'ok' if ok else 'not ok'} {self.n} - {text}", file=self.out)
        for line in diagnostics:
            self.comment(line)

    def comment(self, text):
        for line in str(text).splitlines() or ['']:
            print(f'# {line}'.rstrip(), file=self.out)

    def plan(self):
        print(f'1..{self.n}', file=self.out)


def _short(text):
    text = ' '.join(text.split())
    return text if len(text) <= MESSAGE_CHARS else \
        text[:MESSAGE_CHARS - 3] + '...'


def side(row, outcome):
    """One side of a row: passt's arguments without QEMU's plumbing, then
    how the start ended."""
    if outcome.runs:
        args = passtargs.split(outcome.runs[0], row.params())[0]
        cell = f'`{shlex.join(args)}`' if args else '(no options)'
        for other in outcome.runs[1:]:
            # a restart: it counts only where its arguments differ
            later = passtargs.split(other, row.params())[0]
            cell += ', then ' + (f'`{shlex.join(later)}`' if later != args
                                 else 'the same again')
    else:
        cell = '(no passt run)'
    if outcome.state == 'started':
        cell += ' → started'
    elif outcome.state == 'timeout':
        cell += f' → TIMEOUT: {_short(outcome.message)}'
    elif outcome.runs:
        cell += f' → passt refused: {_short(outcome.message)}'
    else:
        cell += f' → QEMU refused: {_short(outcome.message)}'
    return cell


def _cell(text):
    return text.replace('|', '\\|').replace('\n', ' ')


def table(results):
    """Markdown: @results are (row, upstream, ours, verdict)."""
    lines = ['| # | command line | upstream: passt gets | '
             'ours: passt gets | verdict |',
             '| --- | --- | --- | --- | --- |']
    for row, up, ours, verdict in results:
        cells = [str(row.number), f'`{row.label()}`', side(row, up),
                 side(row, ours),
                 verdict.text]
        lines.append('| ' + ' | '.join(_cell(c) for c in cells) + ' |')
    return '\n'.join(lines)


def plumbing(rows_outcomes):
    """QEMU's own options to passt, as set aside, in first-seen order:
    @rows_outcomes are (row, Outcome)."""
    seen = []
    for row, o in rows_outcomes:
        for run in o.runs:
            for name in passtargs.split(run, row.params())[1]:
                if name not in seen:
                    seen.append(name)
    return ', '.join(seen) or '(none)'
