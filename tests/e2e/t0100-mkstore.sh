# bench/mkstore: layout, exact counts, index files, logs, determinism,
# byte-exact corpus copies, fragmentation
. "$HW_TOP/tests/e2e/lib.sh"
: "${MKSTORE:?set MKSTORE to bench/mkstore}"
mk() { "$MKSTORE" "$@"; }
# a fixed "now", so that two runs agree even across midnight
NOW=1764400000
SMALL="--domains 2 --mailboxes 3 --messages 300 --seed 7 --now $NOW"

# command line
expect_exit 0 mk --help
grep_out "usage: bench/mkstore"
expect_exit 64 mk --no-such-option
expect_exit 64 mk
expect_exit 64 mk --out x --messages many
expect_exit 64 mk --out x --domains 4 --mailboxes 3
[ ! -e x ] || die "a usage error created the output directory"

# a small store with everything on
expect_exit 0 mk --out a $SMALL --with-index --fragment --logs logs --log-days 3 --log-mb 2
grep_out "2 domains, 3 mailboxes, .* 300 messages"

# layout: MDaemon's folder names, spaces included, below every mailbox
nmb=0
for m in a/*/*; do
	nmb=$((nmb + 1))
	for f in "Sent Items" "Deleted Items" "Junk E-mail" "Drafts"; do
		[ -d "$m/$f.IMAP" ] || die "$m/$f.IMAP missing"
	done
	[ -f "$m/HIWATER.MRK" ] || die "$m/HIWATER.MRK missing"
	grep -q '^\[IMAPSubscribed\]' "$m/HIWATER.MRK" || die "$m: no [IMAPSubscribed]"
	grep -q '^Sent Items=1' "$m/HIWATER.MRK" || die "$m: Sent Items not subscribed"
done
[ "$nmb" = 3 ] || die "expected 3 mailboxes, found $nmb"
[ -d a/example.com ] && [ -d a/example.org ] || die "domains missing"
find a -type d -path '*.IMAP/*.IMAP' | grep -q . || die "no nested folder"

# exactly 300 messages, every name (MD|PD)PP NNNNNNNNN .msg
n=$(find a -type f -name '*.msg' | wc -l)
[ "$n" = 300 ] || die "expected 300 messages, found $n"
bad=$(find a -type f -name '*.msg' | sed 's|.*/||' | grep -Evc '^[mp]d(10|50|80)[0-9]{9}\.msg$' || true)
[ "$bad" = 0 ] || die "$bad badly named messages"
others=$(find a -type f ! -name '*.msg' ! -name IMAP.MRK ! -name HIWATER.MRK \
	! -name AddrBook.mrk ! -name Calendar.mrk | wc -l)
[ "$others" = 0 ] || die "unexpected files in the store"
find a -name AddrBook.mrk -o -name Calendar.mrk | grep -q . || die "no groupware .mrk files"

# messages: CRLF headers, dates within three years before --now (as mtimes)
f=$(find a -type f -name '*.msg' | LC_ALL=C sort | head -n 1)
[ "$(head -n 1 "$f" | tail -c 2 | od -An -tx1 | tr -d ' ')" = 0d0a ] || die "$f: no CRLF line ending"
grep -q '^Message-ID: <' "$f" || grep -q '^From: ' "$f" || die "$f: no headers"
find a -type f -name '*.msg' -exec stat -c %Y {} + |
	awk -v now=$NOW '$1 >= now || $1 < now - 3 * 366 * 86400 { bad++ } END { exit bad > 0 }' ||
	die "message mtimes outside the three years before --now"
dups=$(find a -type f -name '*.msg' -exec grep -h -m1 '^Message-ID:' {} + | sort | uniq -d | wc -l)
[ "$dups" = 0 ] || die "$dups repeated Message-IDs"
grep -rlq '^Subject: =?UTF-8?' a || die "no RFC 2047 subject"
grep -rlq 'Content-Transfer-Encoding: base64' a || die "no base64 attachment"

# IMAP.MRK: one per folder, 36 + 36 bytes per message, UIDs in arrival order
nf=$(find a -mindepth 2 -type d | wc -l)
ni=$(find a -name IMAP.MRK | wc -l)
[ "$nf" = "$ni" ] || die "$nf folders but $ni IMAP.MRK files"
find a -name IMAP.MRK | while IFS= read -r i; do
	d=${i%/IMAP.MRK}
	cnt=$(find "$d" -maxdepth 1 -type f -name '*.msg' | wc -l)
	[ "$(stat -c %s "$i")" = $((36 + 36 * cnt)) ] || die "$i: wrong size for $cnt messages"
	[ "$cnt" = 0 ] && continue
	# first record: the oldest file, UID 1, its size and mtime
	name=$(dd if="$i" bs=1 skip=36 count=23 2>/dev/null | tr -d '\000')
	uid=$(od -An -t u4 -j 60 -N 4 "$i" | tr -d ' ')
	size=$(od -An -t u4 -j 64 -N 4 "$i" | tr -d ' ')
	date=$(od -An -t d4 -j 68 -N 4 "$i" | tr -d ' ')
	next=$(od -An -t u4 -j 8 -N 4 "$i" | tr -d ' ')
	[ -f "$d/$name" ] || die "$i: first record names missing file '$name'"
	[ "$uid" = 1 ] || die "$i: first UID $uid"
	[ "$next" = $((cnt + 1)) ] || die "$i: UIDNext $next for $cnt messages"
	[ "$size" = "$(stat -c %s "$d/$name")" ] || die "$i: size of $name"
	[ "$date" = "$(stat -c %Y "$d/$name")" ] || die "$i: date of $name"
	oldest=$(find "$d" -maxdepth 1 -type f -name '*.msg' -exec stat -c %Y {} + | sort -n | head -n 1)
	[ "$date" = "$oldest" ] || die "$i: UID 1 is not the oldest message"
done
nh=$(find a -name HIWATER.MRK -exec grep -l '^FolderClass=IPF\.' {} + | wc -l)
[ "$nh" = "$nf" ] || die "$nf folders but $nh HIWATER.MRK with a FolderClass"
for c in a/*/*/Calendar.IMAP; do
	[ -d "$c" ] || continue
	grep -q '^FolderClass=IPF.Appointment' "$c/HIWATER.MRK" || die "$c: wrong FolderClass"
done

# what --with-index wrote is what hiwater's indexer reads as up to date
expect_exit 0 hw --store a --state state index --check
rm -rf state

# logs: 3 days x 7 services, today's (by --now) included, about 2 MiB
nl=$(ls logs | wc -l)
[ "$nl" = 21 ] || die "expected 21 log files, found $nl"
today=$(date -d "@$NOW" +%Y-%m-%d)
[ -f "logs/MDaemon-$today-SMTP (in).log" ] || die "no log for $today"
[ -f "logs/MDaemon-$today-IMAP.log" ] || die "no IMAP log for $today"
total=$(cat logs/* | wc -c)
[ "$total" -gt 1500000 ] && [ "$total" -lt 2700000 ] || die "logs total $total bytes"
old=$(ls logs | head -n 1)
[ "$(date -d "@$(stat -c %Y "logs/$old")" +%H:%M:%S)" = 23:59:59 ] ||
	die "$old: mtime is not the end of its day"
grep -q '^[A-Z][a-z][a-z] [0-9-]* [0-9:.]*: [0-9]*: --> 221 ' "logs/MDaemon-$today-SMTP (in).log" ||
	die "SMTP log lacks a session"

# --fragment: files interleaved 4 KiB at a time end with several extents
# (on ext4, where this was measured; XFS or btrfs may preallocate it away)
fstype=$(stat -f -c %T .)
if [ "$fstype" != ext2/ext3 ]; then
	echo "filesystem $fstype, not ext4: fragmentation not checked"
elif command -v filefrag >/dev/null 2>&1 && filefrag "$f" >/dev/null 2>&1; then
	frag=$(find a -type f -name '*.msg' -size +64k -exec filefrag {} + |
		awk -F': ' '{ split($2, x, " "); if (x[1] > 1) n++ } END { print n + 0 }')
	[ "$frag" -gt 0 ] || die "--fragment left no fragmented file"
	lfrag=$(filefrag logs/* | awk -F': ' '{ split($2, x, " "); if (x[1] > 1) n++ } END { print n + 0 }')
	[ "$lfrag" -gt 0 ] || die "no fragmented log file"
else
	echo "filefrag unavailable here: fragmentation not checked"
fi

# determinism: same arguments, same bytes - with or without --fragment
expect_exit 0 mk --out b $SMALL --with-index
[ "$(tree_hash a)" = "$(tree_hash b)" ] || die "same seed, different stores"
expect_exit 0 mk --out c --domains 2 --mailboxes 3 --messages 300 --seed 8 --now $NOW
! diff -rq b c >/dev/null || die "another seed, same store"

# never into a non-empty directory
expect_exit 74 mk --out a --messages 1
grep_err "not empty"

# --from-corpus: Enron users become mailboxes; bytes copied exactly.
# Only four users are unpacked (not unpack_corpus's 44,755 files): creating
# and later deleting the whole corpus would take most of this test's time.
# motley-m has inbox subfolders, which become nested folders.
mkdir corp
tar --zstd -xf "$HW_SHARED/corpora/enron-inbox.tar.zst" -C corp --wildcards \
	'*/maildir/allen-p/*' '*/maildir/arnold-j/*' '*/maildir/arora-h/*' '*/maildir/motley-m/*'
md=$(echo corp/*/maildir)
[ -d "$md/motley-m/inbox" ] || die "corpus layout changed: no $md/motley-m/inbox"
start=$(date +%s)
expect_exit 0 mk --out e --from-corpus corp --seed 7
grep_out "4 mailboxes"
: >all.sum
for u in allen-p arnold-j arora-h motley-m; do
	[ -d "e/enron.com/$u" ] || die "mailbox $u missing"
	find "$md/$u" -type f -exec sha256sum {} + >>all.sum
	(cd "$md/$u" && find . -type f -exec sha256sum {} + | cut -d' ' -f1 | sort) >src.sum
	(cd "e/enron.com/$u" && find . -type f -name '*.msg' -exec sha256sum {} + | cut -d' ' -f1 | sort) >dst.sum
	[ -s src.sum ] || die "no source files for $u"
	cmp -s src.sum dst.sum || die "$u: copied messages differ from the corpus"
done
find e -type f -name '*.msg' | head -n 3 | while IFS= read -r m; do
	h=$(sha256sum <"$m" | cut -d' ' -f1)
	s=$(grep "^$h " all.sum | head -n 1 | cut -d' ' -f3-)
	[ -n "$s" ] || die "$m: no source with the same bytes"
	cmp "$m" "$s" || die "$m differs from $s"
done
sub="e/enron.com/motley-m/ene_portland.IMAP/risk_reports.IMAP"
[ -d "$sub" ] || die "inbox subfolder not laid out as $sub"
[ "$(find "$sub" -name '*.msg' | wc -l)" = "$(find "$md/motley-m/inbox/ene_portland/risk_reports" -type f | wc -l)" ] ||
	die "$sub: wrong message count"
find e -type f -name '*.msg' -exec stat -c %Y {} + |
	awk -v s="$start" '$1 < s - 1 { bad++ } END { exit bad > 0 }' ||
	die "--from-corpus mtimes are not the time of the copy"
expect_exit 0 mk --out e2 --from-corpus corp --seed 7
[ "$(tree_hash e)" = "$(tree_hash e2)" ] || die "--from-corpus is not deterministic"
expect_exit 0 mk --out e3 --from-corpus corp --mailboxes 3
[ "$(ls e3/enron.com | LC_ALL=C sort | tr '\n' ' ')" = "allen-p arnold-j arora-h " ] ||
	die "--mailboxes 3 did not take the first three users"

# any other tree: every regular file is a message
mkdir -p t/box/sub
printf 'Subject: one\n\nx\n' >t/box/1
printf 'Subject: two\n\nx\n' >t/box/sub/2
printf 'Subject: three\n\nx\n' >t/loose
ln -s 1 t/box/link
expect_exit 0 mk --out g --from-corpus t
[ "$(find g -type f -name '*.msg' | wc -l)" = 3 ] || die "generic tree: expected 3 messages"
[ "$(find g/corpus.example/box -type f -name '*.msg' | wc -l)" = 2 ] || die "generic tree: box"
