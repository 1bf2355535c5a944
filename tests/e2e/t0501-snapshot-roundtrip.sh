# snapshot -> restore --to: every file byte-identical, odd names and real corpora;
# an unchanged store makes a snapshot that reads no file; packs open with tar/bsdtar
. "$HW_TOP/tests/e2e/lib.sh"

S=store; export HIWATER_STORE=$PWD/store HIWATER_STATE=$PWD/state
mkdir -p "$S/ex.com/bob/Sent Items.IMAP/Old [2019];x.IMAP" "$S/ex.com/zoë"
printf 'Subject: a\n\nx\n' > "$S/ex.com/bob/md50000000001.msg"
printf 'odd\n' > "$S/ex.com/bob/name with space:colon[bracket];semi.txt"
printf 'utf8\n' > "$S/ex.com/bob/Sent Items.IMAP/Old [2019];x.IMAP/mötley crüe é.msg"
printf 'empty follows\n' > "$S/ex.com/zoë/AddrBook.mrk"
: > "$S/ex.com/zoë/md50000000002.msg"
# real corpora: tricky whole, a slice of Enron, laid out as mailboxes
unpack_corpus tricky corp
# its sub-directories become nested .IMAP folders (deepest first)
find corp -mindepth 2 -depth -type d | while IFS= read -r d; do mv "$d" "$d.IMAP"; done
mkdir -p "$S/tricky.org" && mv corp/* "$S/tricky.org/"
# Enron users a* and b*: inbox/N becomes md50 + N as a 9-digit number
tar --zstd -xf "$HW_SHARED/corpora/enron-inbox.tar.zst" -C "$S" \
	--wildcards 'enron-inbox-subset/maildir/[ab]*' \
	--transform 's,^enron-inbox-subset/maildir/,enron.com/,' \
	--transform 's,/inbox/\([^/]*\)/,/\1.IMAP/,' --transform 's,/inbox/,/,' \
	--transform 's,/\([0-9]\)$,/md5000000000\1.msg,' \
	--transform 's,/\([0-9][0-9]\)$,/md500000000\1.msg,' \
	--transform 's,/\([0-9][0-9][0-9]\)$,/md50000000\1.msg,' \
	--transform 's,/\([0-9][0-9][0-9][0-9]\)$,/md5000000\1.msg,'
rmdir "$S/enron-inbox-subset" 2>/dev/null || true
find "$S/enron.com" -mindepth 2 -type d -empty -delete
ls "$S/enron.com/allen-p/md50000000001.msg" >/dev/null || die "enron layout"
nfiles=$(find "$S" -type f | wc -l)
[ "$nfiles" -gt 1000 ] || die "corpus too small: $nfiles"

expect_exit 0 hw snapshot create --label one --json
grep_out '"id":1'
grep_out "\"files\":$nfiles"
expect_exit 0 hw restore --to out --json ex.com tricky.org enron.com
diff -r "$S" out || die "restored tree differs"
[ "$(find "$S" -type f | wc -l)" = "$(find out -type f | wc -l)" ] || die "file count differs"

# unchanged: nothing read, nothing added
expect_exit 0 hw snapshot create --json
grep_out '"files_read":0'
grep_out '"files_added":0'
grep_out '"folders_changed":0'
expect_exit 0 hw snapshot list --json
[ "$(out | wc -l)" = 2 ] || die "two snapshots expected"

# --full stores everything again
expect_exit 0 hw snapshot create --full --json
grep_out "\"files_added\":"
grep_out "\"files_read\":$nfiles"

# every pack is one tar stream standard tools read
for p in state/snapshots/packs/pack-*.tar.zst; do
	zstd -qdc "$p" | tar -tf - >/dev/null || die "tar cannot read $p"
	bsdtar -tf "$p" >/dev/null || die "bsdtar cannot read $p"
done
mkdir byhand && bsdtar -xf "$(ls -S state/snapshots/packs/pack-* | head -1)" -C byhand
cmp "byhand/ex.com/bob/name with space:colon[bracket];semi.txt" \
	"$S/ex.com/bob/name with space:colon[bracket];semi.txt" || die "hand extraction differs"
