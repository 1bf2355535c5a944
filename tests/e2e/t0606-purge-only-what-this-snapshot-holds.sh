# hiwater purge removes only what the snapshot it takes first holds. An
# older snapshot's file of the same name and size but other content must not
# count: here the message was replaced (same name, same size) and this run's
# snapshot cannot read it, so the only copy of the new content is the live file.
. "$HW_TOP/tests/e2e/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	echo "skipped: needs root and setpriv (runs purge as nobody over a file it cannot read)"
	exit 0
fi
old=$(($(date +%s) - 40 * 86400))
del="store/example.com/bob/Deleted Items.IMAP"
mkdir -p "$del"
printf 'Subject: m1\r\n\r\nbody A\r\n' > "$del/md50000000001.msg"
printf 'Subject: m2\r\n\r\nbody 2\r\n' > "$del/md50000000002.msg"
{ mrk_header 3
  mrk_record md50000000001.msg 1 23 $old
  mrk_record md50000000002.msg 2 23 $old; } > "$del/IMAP.MRK"
cat > p.yaml <<'YAML'
store: store
state_dir: state
defaults:
  purge:
    - {folder: Deleted Items, older_than: 30d}
YAML
chmod 755 . && mkdir -p state && chown -R nobody store state
asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
asnobody "$HIWATER" -c p.yaml snapshot create > .out 2> .err || die "snapshot create as nobody failed: $(cat .err)"
# the same name and size, other content, and unreadable to this run
rm "$del/md50000000001.msg"
printf 'Subject: m1\r\n\r\nbody B\r\n' > "$del/md50000000001.msg"
chown nobody "$del/md50000000001.msg"
chmod 000 "$del/md50000000001.msg"
asnobody "$HIWATER" -c p.yaml purge > .out 2> .err || true
[ -e "$del/md50000000001.msg" ] ||
	die "purge removed a message its own snapshot could not store (an older snapshot's file of that name and size counted)"
grep -q "body B" "$del/md50000000001.msg" || die "the live message changed"
[ ! -e "$del/md50000000002.msg" ] || die "message 2 (in the snapshot) should be purged"
grep -q "kept_not_in_snapshot: *1" .out || { cat .out .err; die "the kept message is not reported"; }
