# hiwater restore killed after it put the messages back but before their
# IMAP.MRK records were written: the rerun must index what the killed run put
# back (nothing restored twice, nothing left without a record) and remove the
# killed run's temp files and folder lock
. "$HW_TOP/tests/e2e/lib.sh"

"$MKSTORE" --out store --domains 1 --mailboxes 1 --messages 30 --seed 3 --with-index >/dev/null
cat > p.yaml <<'YAML'
store: store
state_dir: state
YAML
expect_exit 0 hw -c p.yaml index
expect_exit 0 hw -c p.yaml snapshot create
mb=$(cd store && ls -d */* | head -n 1)
ls "store/$mb" | grep -i '\.msg$' | head -n 4 | while read -r m; do rm "store/$mb/$m"; done
expect_exit 0 hw -c p.yaml index
nmsg=$(ls "store/$mb" | grep -ci '\.msg$')

# the first rename is IMAP.MRK's, in hw_mrk_add, after the files are placed
set +e
HIWATER_FAULT=rename:1:KILL hw -q -c p.yaml restore "$mb" >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 137 ] || die "restore was not killed (exit $rc)"
[ "$(ls "store/$mb" | grep -ci '\.msg$')" -eq $((nmsg + 4)) ] ||
	die "the killed run should have put the 4 messages back"

expect_exit 0 hw -c p.yaml restore "$mb"
[ "$(ls "store/$mb" | grep -ci '\.msg$')" -eq $((nmsg + 4)) ] || die "messages restored twice"
left=$(find store -name '.hiwater-tmp.*' -o -name IMAP.LCK)
[ -z "$left" ] || die "left behind: $left"
expect_exit 0 hw -c p.yaml index --check
expect_exit 0 hw -c p.yaml ls "$mb"
[ "$(out | grep -c '\.msg')" -eq $((nmsg + 4)) ] || { out >&2; die "IMAP.MRK does not list every message"; }

# the same with two messages of identical content in a removed folder: each
# file stands for one message, so both get their record on the rerun
sub=$(cd "store/$mb" && ls -d *.IMAP | grep -v ' ' | head -n 1)
m=$(ls "store/$mb" | grep -i '\.msg$' | head -n 1)
cp -p "store/$mb/$m" "store/$mb/$sub/md50000990001.msg"
cp -p "store/$mb/$m" "store/$mb/$sub/md50000990002.msg"
expect_exit 0 hw -c p.yaml index
expect_exit 0 hw -c p.yaml snapshot create
nsub=$(ls "store/$mb/$sub" | grep -ci '\.msg$')
rm -rf "store/$mb/$sub"
expect_exit 0 hw -c p.yaml index
set +e
HIWATER_FAULT=rename:1:KILL hw -q -c p.yaml restore "$mb/$sub" >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 137 ] || die "restore of $sub was not killed (exit $rc)"
expect_exit 0 hw -c p.yaml restore "$mb/$sub"
[ "$(ls "store/$mb/$sub" | grep -ci '\.msg$')" -eq "$nsub" ] || die "$sub: not every message is back"
expect_exit 0 hw -c p.yaml ls "$mb/$sub"
[ "$(out | grep -c '\.msg')" -eq "$nsub" ] || { out >&2; die "$sub: IMAP.MRK does not list every message"; }
expect_exit 0 hw -c p.yaml index --check

# a removed folder that held no message: the rerun of a killed restore must
# still leave it with its IMAP.MRK, as a clean restore does
mkdir "store/$mb/Empty.IMAP"
expect_exit 0 hw -c p.yaml index
[ -f "store/$mb/Empty.IMAP/IMAP.MRK" ] || die "index made no IMAP.MRK for an empty folder"
expect_exit 0 hw -c p.yaml snapshot create
rm -rf "store/$mb/Empty.IMAP"
expect_exit 0 hw -c p.yaml index
set +e
HIWATER_FAULT=rename:1:KILL hw -q -c p.yaml restore "$mb/Empty.IMAP" >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 137 ] || die "restore of Empty.IMAP was not killed (exit $rc)"
expect_exit 0 hw -c p.yaml restore "$mb/Empty.IMAP"
[ -f "store/$mb/Empty.IMAP/IMAP.MRK" ] || die "Empty.IMAP restored without its IMAP.MRK"
left=$(find store -name '.hiwater-tmp.*' -o -name IMAP.LCK)
[ -z "$left" ] || die "left behind: $left"
