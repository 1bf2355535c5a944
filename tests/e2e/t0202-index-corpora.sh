# the real corpora, laid out by mkstore as a migration would, index without
# error or crash; every message gets a record; a second run is a no-op
. "$HW_TOP/tests/e2e/lib.sh"

unpack_corpus enron-inbox corpus-enron
unpack_corpus tricky corpus-tricky
src=$(find corpus-enron -maxdepth 2 -type d -name maildir | head -n 1)
"$MKSTORE" --out store-enron --from-corpus "$src" >/dev/null
"$MKSTORE" --out store-tricky --from-corpus corpus-tricky >/dev/null
rm -rf corpus-enron corpus-tricky

for s in enron tricky; do
	export HIWATER_STORE="$PWD/store-$s" HIWATER_STATE="$PWD/state-$s"
	n=$(find "store-$s" -type f -iname '*.msg' | wc -l)
	[ "$n" -gt 100 ] || die "$s: only $n messages laid out"
	set +e
	hw --json -q index > index.json 2> index.err
	rc=$?
	set -e
	# 0, or 1 for files that are not messages: never an error
	[ "$rc" -le 1 ] || { cat index.err >&2; die "$s: index exited $rc"; }
	tail -n 1 index.json | grep -q '"errors":0' || die "$s: errors reported: $(tail -n 1 index.json)"
	tail -n 1 index.json | grep -q "\"messages\":$n," || die "$s: not every message indexed ($n): $(tail -n 1 index.json)"
	tail -n 1 index.json | grep -q "\"uids_new\":$n," || die "$s: not every message got a UID"
	# every IMAP.MRK is whole: 36 bytes + 36 per record; records == files
	find "store-$s" -name IMAP.MRK | while IFS= read -r m; do
		d=$(dirname "$m")
		files=$(find "$d" -maxdepth 1 -type f -iname '*.msg' | wc -l)
		size=$(stat -c %s "$m")
		[ "$size" -eq $((36 + 36 * files)) ] || die "$m: $size bytes for $files files"
	done
	sleep 1.1
	hw --json -q index > again.json 2>/dev/null || true
	tail -n 1 again.json | grep -q '"headers_read":0' || die "$s: second run read messages: $(tail -n 1 again.json)"
	tail -n 1 again.json | grep -q '"rebuilt":0' || die "$s: second run rewrote indexes"
done
