# tests/integration/lib.sh - sourced (". lib.sh") by the scripted tests that
# run the built binary with the project's Python against a real broker
# (test_relay.sh, test_avro.sh): set-up, clean-up, and the closing line
# "NAME: N passed, N failed" that scripts/run-tests counts.
#
# Set name=test_xxx before sourcing. Afterwards: root (the repository), tmp
# (removed at exit), t0 (start, date +%s), SMTPROXY (exported), and the
# functions below. A broker or registry started with kafka_up/registry_up
# is stopped at exit, however the script ends.

root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
t0=$(date +%s)
it_kafka=    # state dir of the broker kafka_up started
it_registry= # state dir of the registry registry_up started

it_cleanup() {
    if [ -n "$it_registry" ]; then
        "$root/scripts/registry" down --dir "$it_registry" >/dev/null 2>&1
    fi
    if [ -n "$it_kafka" ]; then
        "$root/scripts/kafka" down --dir "$it_kafka" >/dev/null 2>&1
    fi
    rm -rf "$tmp"
}
trap it_cleanup EXIT
trap 'exit 1' INT TERM HUP

finish() { # finish PASSED FAILED: the closing line; exits 0 only when all passed
    echo "$name: $1 passed, $2 failed"
    [ "$2" = 0 ] && [ "$1" -gt 0 ]
    exit $?
}

# finish_run STATUS TOOL PASSED FAILED: as finish, but a tool that exited
# non-zero with nothing counted as failed still fails the run.
finish_run() {
    if [ "$1" != 0 ] && [ "$4" = 0 ]; then
        echo "$name: $2 exited with status $1"
        set -- "$1" "$2" "$3" 1
    fi
    echo "$name: $(($(date +%s) - t0)) s in all"
    finish "$3" "$4"
}

SMTPROXY=${SMTPROXY:-$root/build/smtproxy}
export SMTPROXY
if [ ! -x "$SMTPROXY" ]; then
    echo "$name: $SMTPROXY not built (run make)"
    finish 0 1
fi

# need_python CODE WHAT: py = scripts/pydeps' python, which must run CODE
# (an import); WHAT names it in the failure message.
need_python() {
    py=$("$root/scripts/pydeps" | tail -n 1)
    if [ -z "$py" ] || ! "$py" -c "$1" 2>/dev/null; then
        echo "$name: scripts/pydeps gave no python with $2"
        finish 0 1
    fi
}

# kafka_up DIR: a broker of our own (scripts/kafka) in DIR; bs = its address.
kafka_up() {
    it_kafka=$1
    bs=$("$root/scripts/kafka" up --dir "$1" 2>"$tmp/kafka-up.err" | tail -n 1)
    case $bs in
    127.0.0.1:[0-9]*) ;;
    *)
        cat "$tmp/kafka-up.err"
        echo "$name: could not start a broker"
        finish 0 1
        ;;
    esac
    echo "$name: broker $bs up after $(($(date +%s) - t0)) s"
}

# registry_up DIR BOOTSTRAP: a schema registry of our own (scripts/registry)
# on that broker; url = its address.
registry_up() {
    it_registry=$1
    url=$("$root/scripts/registry" up --dir "$1" --bootstrap "$2" \
        2>"$tmp/registry-up.err" | tail -n 1)
    case $url in
    http://*) ;;
    *)
        cat "$tmp/registry-up.err"
        echo "$name: could not start a schema registry"
        finish 0 1
        ;;
    esac
    echo "$name: registry $url up after $(($(date +%s) - t0)) s"
}
