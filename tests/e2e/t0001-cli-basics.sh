# the command line contract: help, version, usage errors, state outside the store
. "$HW_TOP/tests/e2e/lib.sh"

expect_exit 0 hw --help
grep_out "usage: hiwater"
grep_out "index"
expect_exit 0 hw --version
grep_out "^hiwater [0-9]"
expect_exit 64 hw frobnicate
grep_err "'frobnicate' is not a hiwater command"
expect_exit 64 hw
expect_exit 64 hw --no-such-option

mkdir -p store/example.com/bob
# the state directory may not live inside the store
expect_exit 78 hw --store store --state store/example.com/.hiwater index --check
grep_err "inside the store"
[ ! -e store/example.com/.hiwater ] || die "state dir was created inside the store"
# nor may it hold the store
expect_exit 78 hw --store store --state . index --check
# a store that does not exist
expect_exit 78 hw --store nowhere --state st index --check
grep_err "nowhere"
