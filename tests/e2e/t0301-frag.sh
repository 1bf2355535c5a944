# hiwater frag: verdicts, JSON, the SVG map, name order without IMAP.MRK,
# symlinks never followed
. "$HW_TOP/tests/e2e/lib.sh"
. "$HW_TOP/tests/e2e/layout-lib.sh"

make_fragmented "store/example.com/bob" 10 16
make_fragmented "store/example.com/bob/Sent Items.IMAP" 4 1
hw --store store --state st index >/dev/null 2>&1 || die "index failed"
make_fragmented "store/example.com/carol" 9 16   # no IMAP.MRK

expect_exit 1 hw --store store --state st frag
grep_out "worth defrag"
grep_out "example.com/bob "
# worst first: the fragmented folders before the whole one
out | sed -n 2,3p | grep -q "Sent Items" && die "whole folder listed before fragmented ones"

expect_exit 1 hw --store store --state st frag --json
[ "$(out | grep -c '"folder"')" = 3 ] || die "one JSON object per folder expected"
# filefrag agrees, file by file, on the figure per folder
total=0
for f in store/example.com/bob/*.msg; do
	n=$(filefrag "$f" | sed 's/.*: \([0-9]*\) extents\{0,1\} found/\1/')
	total=$((total + n))
done
[ "$total" -gt 20 ] || die "test files not fragmented ($total fragments)"
want=$(awk "BEGIN { printf \"%.2f\", $total / 10 }")
out | grep '"folder":"example.com/bob"' | grep -q "\"frag_per_file\":$want" ||
	die "bob: filefrag says $want fragments per file"
out | grep '"folder":"example.com/bob"' | grep -q '"order":"uid"' || die "bob: UID order expected"
out | grep '"folder":"example.com/carol"' | grep -q '"order":"name"' || die "carol: name order expected"
out | grep '"folder":"example.com/bob/Sent Items.IMAP"' | grep -q '"verdict":"ok"' || die "Sent Items ok"
out | tail -n 1 | grep -q '"worth_defrag":2' || die "summary: 2 worth defrag"


# the map
expect_exit 1 hw --store store --state st frag --map map.svg
grep -q '</svg>' map.svg || die "map.svg is not a whole SVG"
grep -q 'example.com/bob' map.svg || die "map lacks the folder"
grep -q 'class="fragmented"' map.svg || die "map does not mark fragmented files"
ls -a | grep -q hiwater-tmp && die "temp file left beside the map"

# a symlink with a message name is never followed
printf 'secret\n' > outside.txt
ln -s "$PWD/outside.txt" store/example.com/bob/md50000000099.msg
expect_exit 1 hw --store store --state st frag example.com/bob
out | grep -q "example.com/bob " || die "bob not listed"
[ "$(cat outside.txt)" = secret ] || die "outside file touched"

# usage
expect_exit 64 hw --store store --state st frag --bogus
expect_exit 64 hw --store store --state st frag ../etc
