# Sourced after config.sh: the series of $PATCHES_DIR as a stack. The
# upstream form is several series, each in a folder of its own with its
# cover letter, each applying on top of those before it; $STACK_FILE
# lists them in order, one line each:
#     FOLDER PATCHES [SUBJECT PREFIX]
# (prefix default: PATCH). A series without $STACK_FILE (10.0) is one
# series of every commit, in $PATCHES_DIR itself.
#
# PART=FOLDER restricts checkpatch.sh, each-patch.sh and check-export.sh
# to that series; UPTO=FOLDER (config.sh) gives the whole tool chain a
# work tree and build of the stack up to and including that series.
# shellcheck shell=bash

ST_NAME=() ST_COUNT=() ST_PREFIX=()
if [ -n "${STACK_FILE:-}" ]; then
    while read -r name count prefix; do
        ST_NAME+=("$name") ST_COUNT+=("$count")
        ST_PREFIX+=("${prefix:-PATCH}")
    done < <(grep -v '^\s*\(#\|$\)' "$STACK_FILE")
else
    ST_NAME=("") ST_COUNT=("") ST_PREFIX=(PATCH)
fi

# stack_index FOLDER: the index of series FOLDER in the stack
stack_index() {
    local i
    for i in "${!ST_NAME[@]}"; do
        [ "${ST_NAME[i]}" != "$1" ] || { echo "$i"; return; }
    done
    die "no series '$1' in ${STACK_FILE:-$PATCHES_DIR} (have: ${ST_NAME[*]})"
}

# stack_dir I: the folder of series I
stack_dir() { echo "$PATCHES_DIR${ST_NAME[$1]:+/${ST_NAME[$1]}}"; }

# stack_last: the index of the last series in use (UPTO, or the last)
stack_last() {
    if [ -n "${UPTO:-}" ]; then stack_index "$UPTO"
    else echo $((${#ST_NAME[@]} - 1)); fi
}

# stack_first_patch I: the number in the stack (from 1) of series I's
# first patch; its patches are that and the next ${ST_COUNT[I]} - 1
stack_first_patch() {
    local i n=1
    for ((i = 0; i < $1; i++)); do
        n=$((n + ST_COUNT[i]))
    done
    echo "$n"
}

# stack_parts: the indexes of the series that PART chooses (all up to
# stack_last without it)
stack_parts() {
    if [ -n "${PART:-}" ]; then stack_index "$PART"
    else seq 0 "$(stack_last)"; fi
}

# stack_patches: the patch files of the series in use, in the order
# they apply, without cover letters
stack_patches() {
    local i p
    for i in $(seq 0 "$(stack_last)"); do
        for p in "$(stack_dir "$i")"/[0-9][0-9][0-9][0-9]-*.patch; do
            case $p in */0000-cover-letter.patch|*'*'*) ;; *) echo "$p";; esac
        done
    done
}

# stack_label N: "FOLDER/K" for patch N of the stack (K: its number in
# its series), or N for a series without a stack
stack_label() {
    local i n=$1
    [ -n "${ST_NAME[0]}" ] || { echo "$n"; return; }
    for i in "${!ST_NAME[@]}"; do
        [ "$n" -le "${ST_COUNT[i]}" ] || { n=$((n - ST_COUNT[i])); continue; }
        echo "${ST_NAME[i]}/$n"
        return
    done
    echo "$1"
}
