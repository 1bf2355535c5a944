# a live writer during hiwater nightly: while nightly (and index) run again
# and again, a process playing MDaemon delivers messages, deletes some and
# changes flags, rewriting IMAP.MRK under the folder lock. Nothing delivered
# is lost, nothing deleted comes back, no flag it set is reverted, and after
# the next run every index is exact; the store's own messages are there, or
# purged by rule and restorable.
. "$HW_TOP/tests/e2e/lib.sh"
CRASHCHECK=${CRASHCHECK:-$(dirname "$HIWATER")/tests/crashcheck}
MDWRITER=${MDWRITER:-$(dirname "$HIWATER")/tests/mdwriter}
[ -x "$MDWRITER" ] && [ -x "$CRASHCHECK" ] || die "no $MDWRITER or $CRASHCHECK"

"$MKSTORE" --out store --domains 1 --mailboxes 3 --messages 300 --seed 21 --with-index \
	--now 1790000000 >/dev/null
cat > p.yaml <<'YAML'
store: store
state_dir: state
defaults:
  quota: {warn: 1GB, limit: 2GB}
  purge:
    - {folder: Deleted Items, older_than: 30d}
YAML
expect_exit 0 hw -c p.yaml index
cp -a store base

"$MDWRITER" store 6 7 journal 2>writer.err &
writer=$!
runs=0
while kill -0 $writer 2>/dev/null; do
	set +e
	hw -q -c p.yaml nightly >/dev/null 2>>runs.err
	rc=$?
	hw -q -c p.yaml index >/dev/null 2>>runs.err
	rc2=$?
	set -e
	# 1: a folder busy or changing under us is fine; 2 and worse is not
	[ $rc -le 1 ] && [ $rc2 -le 1 ] || { cat runs.err >&2; die "nightly exited $rc, index $rc2"; }
	runs=$((runs + 1))
done
wait $writer || { cat writer.err >&2; die "the writer failed"; }
[ $runs -ge 2 ] || die "only $runs runs during the writer's life"
grep -q '^D' journal && grep -q '^X' journal && grep -q '^F' journal ||
	die "the writer did not deliver, delete and flag (journal: $(wc -l < journal) lines)"

sleep 1.1   # a folder stamped in the writer's last second is looked at again
expect_exit 0 hw -c p.yaml nightly
expect_exit 0 hw -c p.yaml index --check
"$CRASHCHECK" dump store > dump

# the journal (tab-separated), in order: the last word on each file
tab=$(printf '\t')
awk -F'\t' -v OFS='\t' '{ key = $2 OFS $3; last[key] = $1
	if ($1 == "F") flag[key] = $4; if ($1 == "D") d[key] = 1 }
	END { for (k in last) print last[k], k, (k in flag ? flag[k] : "-"), (k in d ? "D" : "-") }' \
	journal | sort > final
awk -F'\t' '$1 == "X" { print $2 "/" $3 }' journal | sort -u > deleted
while IFS=$tab read -r what folder file flags delivered; do
	path="store/$folder/$file"
	case $what in
	X) [ ! -e "$path" ] || die "$folder/$file was deleted by the writer and came back" ;;
	*)
		if [ ! -e "$path" ]; then
			# gone: only the policy may have purged it (an old base message)
			[ "$delivered" = - ] || die "$folder/$file was delivered and is lost"
			continue
		fi
		if [ "$delivered" = D ]; then
			grep -q "^Subject: live $file" "$path" || die "$folder/$file: content changed"
		fi
		if [ "$what" = F ]; then
			got=$(awk -v p="$folder/IMAP.MRK" -v f="$file" '
				/^[A-Z] / { cur = "" }
				/^I / { x = $0; sub(/^I [^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ /, "", x); cur = x }
				/^  record / && cur == p && $NF == f { sub(/flags=/, "", $3); print $3 }' dump)
			[ "$got" = "$flags" ] || die "$folder/$file: flags $flags set by the writer, now '$got'"
		fi ;;
	esac
done < final

# the store's own messages: there, or purged by rule and restorable
(cd base && find . -iname '*.msg' | sed 's|^\./||' | sort) > base.list
gone=$(comm -23 base.list deleted | while IFS= read -r f; do [ -e "store/$f" ] || echo "$f"; done)
if [ -n "$gone" ]; then
	if echo "$gone" | grep -v "/Deleted Items.IMAP/"; then die "lost outside Deleted Items"; fi
	echo "$gone" | tr '\n' '\0' | xargs -0 "$HIWATER" -q -c p.yaml restore --to rt >/dev/null
	echo "$gone" | while IFS= read -r f; do
		cmp -s "base/$f" "rt/$f" || die "$f was purged and is not restorable"
	done
fi
echo "live writer: $(grep -c '^D' journal) delivered, $(grep -c '^X' journal) deleted, $(grep -c '^F' journal) flag changes, $runs nightly+index runs, $(echo "$gone" | grep -c .) purged"
