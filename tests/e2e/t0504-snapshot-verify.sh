# a corrupt segment: verify names it and the messages it affects; the other
# packs still restore; verify --sample rolls over the repository; the next
# create stores the affected messages again from the live store
. "$HW_TOP/tests/e2e/lib.sh"

export HIWATER_STORE=$PWD/store HIWATER_STATE=$PWD/state
mkdir -p store/ex.com/bob store/ex.com/amy
for i in 1 2 3; do
	{ printf 'Subject: b%s\nMessage-ID: <b%s@ex.com>\n\n' $i $i; head -c 30000 /dev/urandom | base64; } \
		> "store/ex.com/bob/md5000000000$i.msg"
done
expect_exit 0 hw snapshot create ex.com/bob
p1=$(ls state/snapshots/packs)
for i in 1 2; do
	{ printf 'Subject: a%s\nMessage-ID: <a%s@ex.com>\n\n' $i $i; head -c 30000 /dev/urandom | base64; } \
		> "store/ex.com/amy/md5000000000$i.msg"
done
expect_exit 0 hw snapshot create ex.com/amy
expect_exit 0 hw snapshot verify --json --sample 50
grep_out '"segments":1,'
expect_exit 0 hw snapshot verify --json --sample 50
grep_out '"segments":1,'
expect_exit 0 hw snapshot verify --json
grep_out '"verdict":"ok"'

# flip bytes in the middle of pack 1
chmod u+w "state/snapshots/packs/$p1"
printf 'XXXXXXXX' | dd of="state/snapshots/packs/$p1" bs=1 seek=2000 conv=notrunc 2>/dev/null
expect_exit 1 hw snapshot verify --json
grep_out "\"pack\":\"$p1\""
grep_out '"messages_affected":3'
grep_out 'ex.com/bob/md50000000002.msg'
grep_out '"verdict":"damaged"'
grep_err "corrupt"
# the other pack restores; the damaged one is reported, nothing half-written
expect_exit 0 hw restore --to out ex.com/amy
cmp out/ex.com/amy/md50000000001.msg store/ex.com/amy/md50000000001.msg || die "amy differs"
expect_exit 65 hw restore --to out2 ex.com/bob/md50000000001.msg
grep_err "corrupt"
[ ! -e out2/ex.com/bob/md50000000001.msg ] || die "a corrupt message was written"

# the next create of the whole store reads bob's unchanged messages again
# and stores them again: every snapshot restores them, the first one too
expect_exit 0 hw snapshot create --json
grep_out '"lost":3,'
grep_out '"repaired":3,'
grep_out '"files_read":3,'
grep_err "3 stored contents are only in segments snapshot verify found damaged"
expect_exit 0 hw restore --snapshot 1 --to out3 ex.com/bob
for i in 1 2 3; do
	cmp "out3/ex.com/bob/md5000000000$i.msg" "store/ex.com/bob/md5000000000$i.msg" ||
		die "bob $i not restored from snapshot 1"
done
# once is enough: verify still finds the pack damaged, and the next create
# reads nothing
expect_exit 1 hw snapshot verify --json
grep_out '"verdict":"damaged"'
expect_exit 0 hw snapshot create --json
grep_out '"lost":0,'
grep_out '"files_read":0,'
