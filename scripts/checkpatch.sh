#!/bin/bash
# Run QEMU's checkpatch.pl on every patch of the series; any error or
# warning fails, but for "does MAINTAINERS need updating?" on a patch
# whose new files all have maintainers already (get_maintainer.pl): the
# series adds no MAINTAINERS section of its own, naming nobody who has
# not agreed to it. PART=FOLDER: that series of the stack alone.
set -euo pipefail
. "$(dirname "$0")/config.sh"

maintained() {
    local patch=$1 f who
    while read -r f; do
        who=$(cd "$QEMU_TREE" && perl scripts/get_maintainer.pl \
              --no-git-fallback --no-roles --no-rolestats --no-l -f "$f" \
              2>/dev/null || true)
        if [ -z "$who" ]; then
            echo "    no maintainer for new file $f"
            return 1
        fi
    done < <(awk '/^diff --git /{ f = $4; sub("^b/", "", f) }
                  /^new file mode/ { print f }' "$patch")
}

status=0
mapfile -t patches < <(for i in $(stack_parts); do
                            ls "$(stack_dir "$i")"/[0-9][0-9][0-9][0-9]-*.patch
                        done | grep -v '/0000-cover-letter\.patch$')
for p in "${patches[@]}"; do
    out=$(perl "$QEMU_TREE/scripts/checkpatch.pl" --color=never "$p" 2>&1) ||
        { echo "FAIL: ${p#"$PATCHES_DIR"/}"; echo "$out" | sed 's/^/    /';
          status=1; continue; }
    warnings=$(grep '^WARNING' <<<"$out" |
               grep -viE 'MAINTAINERS need updating|added, moved or deleted file' ||
               true)
    if [ -z "$warnings" ] && maintained "$p"; then
        echo "ok: ${p#"$PATCHES_DIR"/}"
    else
        echo "FAIL: ${p#"$PATCHES_DIR"/}"
        echo "$out" | sed 's/^/    /'
        status=1
    fi
done
exit $status
