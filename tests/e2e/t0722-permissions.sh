# permissions, under the loosest umask: the state directory (and the
# snapshot repository in it) is created 0700, temp files are 0600 while they
# are written, the catalogs 0600; nothing hiwater creates is group- or
# world-writable; a state directory others can write to is refused; files
# rewritten in the store keep their mode.
. "$HW_TOP/tests/e2e/lib.sh"
umask 000

"$MKSTORE" --out store --domains 1 --mailboxes 2 --messages 40 --seed 51 --with-index \
	--now 1790000000 >/dev/null
"$MKSTORE" --logs logs --log-days 4 --log-mb 1 >/dev/null
chmod 0640 "$(find store -name IMAP.MRK | head -n 1)"
mode640=$(find store -name IMAP.MRK | head -n 1)
find store logs -perm -o+w > planted.writable
cat > p.yaml <<'YAML'
store: store
state_dir: var/lib/hiwater
defaults:
  purge:
    - {folder: Deleted Items, older_than: 30d}
logs: {dir: logs, keep_days: 1, max_age: 3d}
snapshots: {last: 2}
YAML

# temp files while they are written: kill each command at its first write
for cmd in "index --force" "snapshot create" nightly "logs --dir logs"; do
	set +e
	HIWATER_FAULT=write:1:KILL hw -q -c p.yaml $cmd >/dev/null 2>&1
	rc=$?
	set -e
	temps=$(find store var logs -name '.hiwater-tmp.*' 2>/dev/null)
	[ $rc -eq 137 ] && [ -n "$temps" ] || continue
	echo "$temps" | while IFS= read -r t; do
		m=$(stat -c %a "$t")
		[ "$m" = 600 ] || die "$cmd: temp file $t has mode $m, not 600"
	done
	seen_temp=1
done

[ "${seen_temp:-0}" = 1 ] || die "no kill left a temp file: the temp mode was not checked"

# every command, then the modes
expect_exit 0 hw -c p.yaml index
expect_exit 0 hw -c p.yaml snapshot create
expect_exit 0 hw -c p.yaml nightly
hw -c p.yaml logs --dir logs >/dev/null 2>&1 || true
hw -c p.yaml restore --to rt "$(cd store && ls -d */* | head -n 1)" >/dev/null 2>&1 || true

[ "$(stat -c %a var/lib/hiwater)" = 700 ] || die "state dir mode $(stat -c %a var/lib/hiwater), not 700"
if [ -d var/lib/hiwater/snapshots ]; then
	m=$(stat -c %a var/lib/hiwater/snapshots)
	[ "$m" = 700 ] || die "snapshot repository mode $m, not 700"
fi
for db in $(find var -name '*.db'); do
	m=$(stat -c %a "$db")
	[ "$m" = 600 ] || die "$db has mode $m, not 600"
done
bad=$(find var store logs rt -perm -o+w 2>/dev/null | grep -vxF -f planted.writable || true)
[ -z "$bad" ] || die "world-writable: $bad"
bad=$(find var -perm -g+w 2>/dev/null)
[ -z "$bad" ] || die "group-writable in the state: $bad"
[ "$(stat -c %a "$mode640")" = 640 ] || die "$mode640 lost its mode (now $(stat -c %a "$mode640"))"

# a state directory others may write to is refused, and not used
mkdir -m 777 open-state
chmod 777 open-state
expect_exit 78 hw --store store --state open-state index
grep_err "writable"
[ -z "$(ls -A open-state)" ] || die "the refused state dir was used"
# the same through a symlink to it
ln -s open-state state-link
set +e
hw --store store --state state-link index >/dev/null 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || die "a symlinked, world-writable state dir was used"
[ -z "$(ls -A open-state)" ] || die "the refused state dir was used through a symlink"
