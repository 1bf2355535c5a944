# messages delivered while the indexer runs end up indexed (now or on the
# next run) and nothing is lost
. "$HW_TOP/tests/e2e/lib.sh"

"$MKSTORE" --out store --domains 1 --mailboxes 3 --messages 3000 --seed 5 >/dev/null
export HIWATER_STORE="$PWD/store" HIWATER_STATE="$PWD/state"
before=$(find store -name '*.msg' | wc -l)
folders=$(find store -mindepth 2 -type d | grep -v ' ' | head -n 4)

# a writer delivering 300 messages, as a mail server would
(
	i=0
	while [ $i -lt 300 ]; do
		for f in $folders; do
			n=$((900000000 + i))
			printf 'From: live@ex.com\r\nSubject: live %d\r\nMessage-ID: <live%d@ex.com>\r\n\r\nx\r\n' $i $i \
				> "$f/tmp-delivery"
			mv "$f/tmp-delivery" "$f/md50$n.msg"
			i=$((i + 1))
		done
	done
) &
writer=$!
# index repeatedly while the writer runs
while kill -0 $writer 2>/dev/null; do
	"$HIWATER" -q index >/dev/null 2>&1 || true
done
wait $writer
after=$(find store -name '*.msg' | wc -l)
[ "$after" -eq $((before + 300)) ] || die "messages lost: $before + 300 != $after"

sleep 1.1
expect_exit 0 hw -q index
sleep 1.1
expect_exit 0 hw index --check
# every message file has exactly one record, and every record a file
find store -mindepth 2 -type d > dirs.txt
while IFS= read -r f; do
	rel=${f#store/}
	files=$(find "$f" -maxdepth 1 -name '*.msg' | wc -l)
	hw ls --json "$rel" > ls.out 2>/dev/null || die "ls $rel failed"
	recs=$(wc -l < ls.out)
	[ "$files" -eq "$recs" ] || die "$rel: $files files but $recs records"
	uniq=$(grep -o '"uid":[0-9]*' ls.out | sort -u | wc -l)
	[ "$uniq" -eq "$recs" ] || die "$rel: duplicate UIDs"
done < dirs.txt
