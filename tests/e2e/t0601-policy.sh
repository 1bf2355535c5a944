# hiwater policy check / show: exit codes, FILE:LINE:COLUMN, inheritance, -c plumbing
. "$HW_TOP/tests/e2e/lib.sh"

expect_exit 0 hw -c "$HW_TOP/contrib/hiwater.yaml" policy check
grep_out "valid"
expect_exit 0 hw policy check -c "$HW_TOP/contrib/hiwater.yaml" --json
grep_out '"valid": *true'

# each kind of error: exit 78 and the position
check_bad() {  # check_bad WHERE PATTERN  (policy text on stdin)
	cat > bad.yaml
	expect_exit 78 hw -c bad.yaml policy check
	grep_err "bad.yaml:$1: "
	grep_err "$2"
}
printf 'store: /s\nstorage: /t\n' | check_bad 2:1 "unknown key 'storage'"
printf 'defaults:\n  quota: [1GB]\n' | check_bad 2:10 "expected 'none' or a mapping"
printf 'defaults:\n  quota:\n    warn: 1.8GiBs\n' | check_bad 3:11 "expected a size such as 1.8GB"
printf 'defaults:\n  purge:\n    - folder: Trash\n      older_than: 30\n' |
	check_bad 4:19 "expected a duration such as 30d"
printf 'window:\n  start: "02:00"\n  end: "02:00"\n' | check_bad 3:8 "empty window"
printf 'window:\n  - {start: "01:00", end: "03:00"}\n  - {start: "02:00", end: "04:00"}\n' |
	check_bad 3:5 "overlaps"
printf 'store: [\n' | check_bad 2:1 ""
# a missing file is a configuration error too
expect_exit 78 hw -c nowhere.yaml policy check
grep_err "open(nowhere.yaml) failed"
# and any command that opens the store honours -c (and fails the same way)
expect_exit 78 hw -c bad.yaml policy show
# no policy at all
expect_exit 78 hw policy check

# inheritance as documented: defaults -> domain -> mailbox
cat > p.yaml <<'YAML'
store: store
state_dir: state
defaults:
  quota: {warn: 1GB, limit: 2GB}
  purge:
    - {folder: Deleted Items, older_than: 30d}
    - {folder: "Junk*", older_than: 14d}
domains:
  example.com:
    quota: {warn: 3GB}
    purge:
      - {folder: deleted items, older_than: 60d}
mailboxes:
  bob@example.com:
    quota: none
    purge:
      - {folder: "Junk*", older_than: none}
YAML
expect_exit 0 hw -c p.yaml policy show --json example.com/alice
grep_out '"quota.warn": *3221225472'
grep_out '"quota.limit": *2147483648'
grep_out '"older_than": *"60d"'
grep_out '"older_than": *"14d"'
expect_exit 0 hw -c p.yaml policy show bob@example.com
grep_out 'quota.warn: *none (mailbox bob@example.com'
grep_out "purge: *'deleted items' older than 60d (domain example.com"
if grep -q "Junk" .out; then die "bob's Junk rule should be switched off"; fi
expect_exit 0 hw -c p.yaml policy show
grep_out "quota.limit: *2.0 GB (defaults"
if command -v python3 >/dev/null 2>&1; then
	hw -c p.yaml policy show --json bob@example.com | python3 -m json.tool >/dev/null ||
		die "policy show --json is not valid JSON"
fi
expect_exit 64 hw -c p.yaml policy show nobody
expect_exit 64 hw -c p.yaml policy frob
