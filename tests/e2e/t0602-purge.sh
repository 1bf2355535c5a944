# hiwater purge: selection by arrival date in IMAP.MRK (never mtime), only the
# folders a rule names, -n changes nothing, no removal without snapshots
. "$HW_TOP/tests/e2e/lib.sh"

now=$(date +%s)
old=$((now - 40 * 86400))
new=$((now - 5 * 86400))
# msg DIR NUM: a message file whose mtime says nothing about its age
msg() {
	mkdir -p "$1"
	printf 'Subject: m%s\r\n\r\nbody %s\r\n' "$2" "$2" > "$1/md5000000000$2.msg"
}
del="store/example.com/bob/Deleted Items.IMAP"
msg "$del" 1; msg "$del" 2; msg "$del" 3; msg "$del" 4
touch -d '2001-01-01' "$del/md50000000002.msg"   # ancient mtime, new arrival
{ mrk_header 5
  mrk_record md50000000001.msg 1 29 $old
  mrk_record md50000000002.msg 2 29 $new
  mrk_record md50000000003.msg 3 29 $old
  mrk_record md50000000004.msg 4 29 $new; } > "$del/IMAP.MRK"
inbox=store/example.com/bob
msg "$inbox" 1
{ mrk_header 2; mrk_record md50000000001.msg 1 29 $old; } > "$inbox/IMAP.MRK"
adel="store/example.com/alice/Deleted Items.IMAP"
msg "$adel" 1
{ mrk_header 2; mrk_record md50000000001.msg 1 29 $old; } > "$adel/IMAP.MRK"
cat > p.yaml <<'YAML'
store: store
state_dir: state
defaults:
  purge:
    - {folder: Deleted Items, older_than: 30d}
mailboxes:
  alice@example.com:
    purge: none
YAML

hw -c p.yaml quota >/dev/null 2>&1 || true    # creates the state dir
before_store=$(tree_hash store)
before_state=$(tree_hash state)

expect_exit 0 hw -c p.yaml purge -n
grep_out "Deleted Items.IMAP *md50000000001.msg"
grep_out "Deleted Items.IMAP *md50000000003.msg"
grep_out "older than 30d"
grep_out "'Deleted Items' older than 30d (defaults, line 5)"
grep_out "would_remove: *2"
n=$(grep -c "md5000000000" .out)
[ "$n" = 2 ] || die "expected exactly 2 messages listed, got $n"
if grep -q "alice" .out; then die "alice has purge: none"; fi
expect_exit 0 hw -c p.yaml purge -n --json
grep_out '"file":"md50000000001.msg"'
grep_out '"reason":"older than 30d"'
grep_out '"date_source":"IMAP.MRK"'
grep_out '"would_remove":2'
if command -v python3 >/dev/null 2>&1; then
	grep -v '^$' .out | while IFS= read -r line; do
		printf '%s\n' "$line" | python3 -m json.tool >/dev/null || die "bad JSON: $line"
	done
fi
# -n changed nothing, in the store or the state
[ "$(tree_hash store)" = "$before_store" ] || die "purge -n changed the store"
[ "$(tree_hash state)" = "$before_state" ] || die "purge -n changed the state"

if hw --help | grep -q "snapshot .*(not in this build)"; then
	# no snapshots: purge must refuse and touch nothing
	expect_exit 78 hw -c p.yaml purge
	grep_err "refusing to purge 2 messages"
	grep_err "snapshot"
	[ "$(tree_hash store)" = "$before_store" ] || die "a refused purge changed the store"
else
	expect_exit 0 hw -c p.yaml purge
	grep_out "removed: *2"
	[ ! -e "$del/md50000000001.msg" ] || die "md50000000001.msg should be gone"
	[ ! -e "$del/md50000000003.msg" ] || die "md50000000003.msg should be gone"
	[ -e "$del/md50000000002.msg" ] && [ -e "$del/md50000000004.msg" ] || die "new mail removed"
	[ -e "$inbox/md50000000001.msg" ] && [ -e "$adel/md50000000001.msg" ] ||
		die "a folder without a rule lost mail"
	[ "$(wc -c < "$del/IMAP.MRK")" -eq $((36 + 2 * 36)) ] || die "IMAP.MRK should hold 2 records"
	if grep -q "md50000000001" "$del/IMAP.MRK"; then die "record of a purged message kept"; fi
	# undoable: restore puts both back (new names, same content)
	expect_exit 0 hw -c p.yaml restore "example.com/bob/Deleted Items.IMAP/md50000000001.msg" \
		"example.com/bob/Deleted Items.IMAP/md50000000003.msg"
	grep -l "body 1" "$del"/*.msg >/dev/null || die "message 1 not restored"
	grep -l "body 3" "$del"/*.msg >/dev/null || die "message 3 not restored"
fi
