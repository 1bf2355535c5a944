# a run killed while it holds a folder lock (IMAP.LCK) must not leave the
# folder locked for ever: the next run removes a lock whose writer is a dead
# hiwater, and never one held by a live process or written by another program
. "$HW_TOP/tests/e2e/lib.sh"

"$MKSTORE" --out store --domains 1 --mailboxes 2 --messages 40 --seed 7 >/dev/null
before=$(cd store && find . -iname '*.msg' -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)

# killed just before its first rename: the folder lock is held at that moment
set +e
HIWATER_FAULT=rename:1:KILL hw -q --store store --state state index -j 1 >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 137 ] || die "the run was not killed (exit $rc)"
locks=$(find store -name IMAP.LCK)
[ -n "$locks" ] || die "no lock left by the killed run: the test no longer covers the case"
grep -q "^hiwater [0-9]" $locks || die "lock content: $(cat $locks)"

# the next run finishes, removes the stale lock and the temp file, indexes all
expect_exit 0 hw --store store --state state index
[ -z "$(find store -name IMAP.LCK)" ] || die "stale lock still there: $(find store -name IMAP.LCK)"
[ -z "$(find store -name '.hiwater-tmp.*')" ] || die "temp files left"
expect_exit 0 hw --store store --state state index --check --force
after=$(cd store && find . -iname '*.msg' -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
[ "$before" = "$after" ] || die "message files changed"

# locks that are not ours to break: another program's, and a live process's
f1=$(find store -mindepth 2 -maxdepth 2 -type d | LC_ALL=C sort | head -n 1)
f2=$(find store -mindepth 3 -maxdepth 3 -type d -name '*.IMAP' | LC_ALL=C sort | head -n 1)
cp "$(find "$f1" -maxdepth 1 -name '*.msg' | head -n 1)" "$f1/md50000999001.msg"
cp "$(find "$f1" -maxdepth 1 -name '*.msg' | head -n 1)" "$f2/md50000999002.msg"
printf 'MDaemon\r\n' > "$f1/IMAP.LCK"
printf 'hiwater %s\r\n' $$ > "$f2/IMAP.LCK"       # this shell: alive
mrk1=$(sha256sum < "$f1/IMAP.MRK")
hw -q --store store --state state index -j 1 >idx.out 2>idx.err &
pid=$!
sleep 1
[ "$(cat "$f1/IMAP.LCK")" = "$(printf 'MDaemon\r\n')" ] || die "another program's lock was broken"
[ "$(cat "$f2/IMAP.LCK")" = "$(printf 'hiwater %s\r\n' $$)" ] || die "a live process's lock was broken"
[ "$(sha256sum < "$f1/IMAP.MRK")" = "$mrk1" ] || die "IMAP.MRK written while another writer held the lock"
rm -f "$f1/IMAP.LCK" "$f2/IMAP.LCK"
set +e
wait $pid
rc=$?
set -e
[ $rc -eq 0 ] || { cat idx.err >&2; die "index exited $rc once the locks were gone"; }
grep -q md50000999001.msg "$f1/IMAP.MRK" || die "the new message was not indexed"
grep -q md50000999002.msg "$f2/IMAP.MRK" || die "the new message was not indexed"
[ -z "$(find store -name IMAP.LCK)" ] || die "a lock was left behind"

# a stale lock in a folder that needs no rewrite is removed all the same: a
# lock left in a folder blocks MDaemon's own writers too
sh -c 'exit 0' & dead=$!
wait $dead
expect_exit 0 hw --store store --state state index
printf 'hiwater %s\r\n' "$dead" > "$f1/IMAP.LCK"
printf 'hiwater %s\r\n' "$dead" > "$f2/IMAP.LCK"
expect_exit 0 hw --store store --state state index
[ -z "$(find store -name IMAP.LCK)" ] || die "stale lock kept in a folder that needed no rewrite"
