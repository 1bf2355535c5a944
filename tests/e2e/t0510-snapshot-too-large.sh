# A file larger than a pack member may be (16 GiB: no reader takes a larger
# one back out) is reported by name and left out, not stored where nothing
# could restore it; the rest of the folder is stored, and the run exits 1
# (something skipped). The file is sparse: it takes no disk space.
. "$HW_TOP/tests/e2e/lib.sh"

export HIWATER_STORE=$PWD/store HIWATER_STATE=$PWD/state
f=store/ex.com/bob
mkdir -p "$f"
printf 'Subject: small\nMessage-ID: <small@ex.com>\n\nhello\n' > "$f/md50000000001.msg"
truncate -s 17G "$f/md50000000002.msg" 2>/dev/null || { echo "skip: no sparse files here" >&2; exit 0; }
expect_exit 1 hw snapshot create --json
grep_err 'md50000000002.msg: 18253611008 bytes, more than a snapshot holds'
grep_out '"skipped":1'
expect_exit 0 hw find --json --message-id small@ex.com
grep_out '"file":"md50000000001.msg"'
expect_exit 0 hw snapshot verify --json --sample 100
grep_out '"verdict":"ok"'
