# hiwater index / ls / --check / -n from the command line, on a hand-made store
. "$HW_TOP/tests/e2e/lib.sh"

S=store
mkdir -p "$S/ex.com/bob/Sent Items.IMAP" "$S/ex.com/bob/Deleted Items.IMAP" "$S/ex.com/amy"
msg() {  # msg FOLDER NUM DATE SUBJECT
	printf 'From: Bob <bob@ex.com>\r\nDate: %s\r\nSubject: %s\r\nMessage-ID: <%s.%s@ex.com>\r\n\r\nhello\r\n' \
		"$3" "$4" "$2" "$4" > "$S/$1/md50$(printf %09d "$2").msg"
}
msg ex.com/bob 1 "Mon, 2 Mar 2020 10:00:00 +0000" "second"
msg ex.com/bob 2 "Sun, 1 Mar 2020 10:00:00 +0000" "first"
msg "ex.com/bob/Sent Items.IMAP" 1 "Sun, 1 Mar 2020 11:00:00 +0000" "sent one"
msg ex.com/amy 7 "Sun, 1 Mar 2020 11:00:00 +0000" "=?UTF-8?B?w6ljaG8=?="
printf 'not mail' > "$S/ex.com/bob/readme.txt"
export HIWATER_STORE="$PWD/$S" HIWATER_STATE="$PWD/state"

# a dry run writes nothing
expect_exit 1 hw index -n        # 1: a non-message file was skipped
grep_out "would rebuild"
[ ! -e "$S/ex.com/bob/IMAP.MRK" ] || die "dry run wrote IMAP.MRK"
# --check before any index: every folder stale
expect_exit 1 hw index --check
grep_out "stale"

expect_exit 1 hw index --json
out | grep -q '"folders":4' || die "summary lacks folders:4"
out | grep -q '"uids_new":4' || die "summary lacks uids_new:4"
[ -f "$S/ex.com/bob/IMAP.MRK" ] || die "no IMAP.MRK written"
[ -f "$S/ex.com/bob/readme.txt" ] || die "non-message file removed"
ls -a "$S/ex.com/bob" | grep -q hiwater-tmp && die "temp file left"

# ls: UIDs in arrival order, JSON keys as documented
expect_exit 0 hw ls --json ex.com/bob
first=$(out | head -n 1)
echo "$first" | grep -q '"uid":1' || die "first row not uid 1: $first"
echo "$first" | grep -q '"file":"md50000000002.msg"' || die "uid 1 is not the oldest: $first"
for k in uid flags file size date from subject message_id; do
	echo "$first" | grep -q "\"$k\":" || die "ls --json lacks key $k"
done
echo "$first" | grep -q '"date":"2020-03-01T10:00:00Z"' || die "date not ISO UTC: $first"
expect_exit 0 hw ls --json ex.com/amy
grep_out '"subject":"écho"'
expect_exit 0 hw ls ex.com/bob
grep_out "uid"
grep_out "md50000000001.msg"

# the subscriptions at the mailbox root
grep -q "Sent Items=" "$S/ex.com/bob/HIWATER.MRK" || die "Sent Items not subscribed"
grep -q "Deleted Items=" "$S/ex.com/bob/HIWATER.MRK" || die "Deleted Items not subscribed"

# second run: nothing to do; --check agrees
sleep 1
expect_exit 1 hw index
expect_exit 0 hw index --check
# a delivery into one folder: --check names only that folder
msg "ex.com/bob/Sent Items.IMAP" 2 "Sun, 1 Mar 2020 12:00:00 +0000" "sent two"
expect_exit 1 hw index --check
grep_out "Sent Items"
n=$(out | grep -c "stale" || true)
[ "$n" -ge 1 ] || die "no stale row"
out | grep "stale" | grep -v "Sent Items" | grep -vq "^stale" && die "another folder named stale"
expect_exit 0 hw index "ex.com/bob/Sent Items.IMAP"
expect_exit 0 hw ls --json "ex.com/bob/Sent Items.IMAP"
[ "$(out | wc -l)" -eq 2 ] || die "Sent Items should list 2 records"

# bad FOLDER arguments are usage errors
expect_exit 64 hw index ../etc
expect_exit 64 hw index "ex.com/bob/NotAFolder"
expect_exit 64 hw ls
# a folder that does not exist: error on that folder, exit 2
expect_exit 2 hw index ex.com/nobody
grep_err "ex.com/nobody"
