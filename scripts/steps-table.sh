#!/bin/bash
# steps-table.sh FILE [WALL]: the table of the steps a test run noted in
# FILE (lines "NAME<TAB>SECONDS<TAB>VERDICT[<TAB>WAITED]", see step() in
# config.sh, report_tap in testlib.sh), with their total and, given WALL,
# the run's own seconds. A step that ran beside the steps after it adds
# to the total only the seconds that the run waited for it at its end.
set -euo pipefail
[ -s "$1" ] || exit 0
echo "--- steps: seconds, verdict"
awk -F'\t' -v wall="${2:-}" '
    $4 != "" {
        printf "    %-34s %5d  %s (beside the next steps; then waited %d s)\n",
            $1, $2, $3, $4
        total += $4
        next
    }
    { printf "    %-34s %5d  %s\n", $1, $2, $3; total += $2 }
    $3 ~ /^skipped/ { skips++ }
    END {
        printf "    %-34s %5d  (%.1f min)\n", "total of the steps", total, total / 60
        if (wall != "")
            printf "    %-34s %5d  (%.1f min)\n", "whole run", wall, wall / 60
        if (skips)
            printf "    %d step(s) skipped, each with its reason above\n", skips
    }' "$1"
