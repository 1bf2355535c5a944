# snapshot create takes content hashes from the indexer's catalog when it has
# them for the same file identity: a rewritten (same content) message is not
# read again; a changed one is
. "$HW_TOP/tests/e2e/lib.sh"

export HIWATER_STORE=$PWD/store HIWATER_STATE=$PWD/state
B=store/ex.com/bob
mkdir -p "$B"
for i in 1 2 3 4; do
	printf 'Subject: m%s\nMessage-ID: <m%s@ex.com>\n\nbody %s\n' $i $i $i > "$B/md5000000000$i.msg"
done
expect_exit 0 hw index
expect_exit 0 hw snapshot create --json
grep_out '"files_read":6'
# same content, new identity (as a defrag rewrite leaves it)
for i in 1 2; do cp "$B/md5000000000$i.msg" t && mv t "$B/md5000000000$i.msg"; done
expect_exit 0 hw index --verify
expect_exit 0 hw snapshot create --json
# IMAP.MRK (rewritten by the index run) is read; the two rewritten messages are not
grep_out '"files_read":1,'
grep_out '"files_added":0'
# the indexer's hash is only trusted for the identity it saw
printf 'Subject: m1 changed\nMessage-ID: <m1@ex.com>\n\nbody X\n' > t && mv t "$B/md50000000001.msg"
expect_exit 0 hw snapshot create --json
grep_out '"files_added":1'
expect_exit 0 hw restore --to out ex.com
cmp out/ex.com/bob/md50000000001.msg "$B/md50000000001.msg" || die "changed message not stored"
cmp out/ex.com/bob/md50000000002.msg "$B/md50000000002.msg" || die "rewritten message wrong"
