# Sourced by the guest-level CLI tests (memtouch.sh, clock.sh): run `s390pv run`, judge its
# output line by line, report one verdict per case. The caller sets $bin, $tmp and
# $boot_timeout (seconds), and starts with passed=0 failed=0 why="".

pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }

# boot IMAGE [ARGS...]: `s390pv run`, stdout/stderr in $tmp/out, $tmp/err, status in $status.
boot() {
    local image=$1; shift
    "$bin" run "$image" --timeout "$boot_timeout" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    status=$?
}

# Each want_* adds to $why when the last run differs (whole lines); verdict WHAT reports and resets.
want_status() { [ "$status" = "$1" ] || why+="status $status (want $1); "; }
want_out() { grep -qxF -- "$1" "$tmp/out" || why+="stdout lacks '$1'; "; }
want_out_re() { grep -qxE -- "$1" "$tmp/out" || why+="stdout lacks /$1/; "; }
want_count_re() { local n; n=$(grep -cE -- "$1" "$tmp/out"); [ "$n" = "$2" ] || why+="$n lines /$1/ (want $2); "; }
want_err() { grep -qxF -- "$1" "$tmp/err" || why+="stderr lacks '$1'; "; }
want_no_err() { [ ! -s "$tmp/err" ] || why+="stderr not empty; "; }
verdict() {
    if [ -z "$why" ]; then
        pass "$1"
    else
        fail "$1: $why"
        sed 's/^/    out: /' "$tmp/out" | head -n 12; sed 's/^/    err: /' "$tmp/err" | head -n 6
    fi
    why=""
}
