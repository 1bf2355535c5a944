# hostile things planted in the store: symlinks (to a file outside, to
# /etc/passwd, as a folder, as a mailbox, as IMAP.MRK and HIWATER.MRK), a
# FIFO and device nodes named like messages. Every command that reads or
# writes the store runs over them: none hangs, none follows a link or opens
# a special file, nothing outside the store changes, and what lies behind a
# link is never indexed, listed, archived or restored.
. "$HW_TOP/tests/e2e/lib.sh"

"$MKSTORE" --out store --domains 1 --mailboxes 3 --messages 60 --seed 31 --with-index >/dev/null
cat > p.yaml <<'YAML'
store: store
state_dir: state
defaults:
  purge:
    - {folder: Deleted Items, older_than: 30d}
YAML
expect_exit 0 hw -c p.yaml index
mkdir outside
printf 'From: x@outside\r\nSubject: SECRET-MARKER-42\r\n\r\nnot yours\r\n' > outside/secret.msg
cp outside/secret.msg outside/md50000999003.msg
printf '[Hostile]\r\nA=1\r\n' > outside/hiwater.txt
cp "$(find store -name IMAP.MRK | head -n 1)" outside/imap.mrk
outside_hash=$(tree_hash outside)

set -- $(cd store && find . -mindepth 2 -maxdepth 2 -type d | sed 's|^\./||' | LC_ALL=C sort)
f1=store/$1 f2=store/$2 f3=store/$3
sub=$(find "$f1" -mindepth 1 -maxdepth 1 -type d -name '*.IMAP' | LC_ALL=C sort | head -n 1)
ln -s "$PWD/outside/secret.msg" "$f1/md50000999001.msg"         # absolute
ln -s ../../../outside/secret.msg "$f1/md50000999002.msg"       # relative
ln -s /etc/passwd "$f1/md50000999006.msg"
ln -s "$PWD/outside" "$f1/Evil.IMAP"                            # a folder
ln -s "$PWD/outside" "store/$(dirname "$1")/linkbox"           # a mailbox
mkfifo "$f2/md50000999004.msg"                                  # blocks whoever opens it
specials=fifo
if mknod "$f2/md50000999005.msg" c 1 5 2>/dev/null; then         # /dev/zero: never ends
	specials="$specials, /dev/zero"
fi
rm -f "$f3/HIWATER.MRK" && ln -s "$PWD/outside/hiwater.txt" "$f3/HIWATER.MRK"
cp "$(find "$f2" -maxdepth 1 -name '*.msg' -type f | head -n 1)" "$sub/md50000999007.msg"
rm -f "$sub/IMAP.MRK" && ln -s "$PWD/outside/imap.mrk" "$sub/IMAP.MRK"
find store -type l -o -type p -o -type c | LC_ALL=C sort > planted

# every command, each under a timeout (a FIFO or /dev/zero opened = a hang)
run() {
	set +e
	timeout 60 "$HIWATER" -c p.yaml "$@" >run.out 2>run.err
	rc=$?
	set -e
	cat run.out run.err >> all.out
	[ $rc -ne 124 ] || die "hung: hiwater $*"
	# done (maybe with findings or errors on the bad items), or refused
	# with a message: never a crash
	case $rc in
	0|1|2) ;;
	65|74) [ -s run.err ] || die "hiwater $* exited $rc without a word" ;;
	*) cat run.err >&2; die "hiwater $* exited $rc" ;;
	esac
}
run index
run index --force --verify
run ls "${f1#store/}"
run ls --json "${sub#store/}"
run quota
run frag
run snapshot create
run snapshot create --full
run snapshot verify
run purge
run nightly
run defrag
run find --subject SECRET
run find --deleted
run restore --to rt "${f1#store/}" "${sub#store/}"

[ "$(tree_hash outside)" = "$outside_hash" ] || die "something outside the store changed"
find store -type l -o -type p -o -type c | LC_ALL=C sort | cmp -s - planted ||
	die "a planted link or special file was replaced or removed"
if grep -q "SECRET-MARKER-42" all.out; then die "a command showed what lies behind a link"; fi
if [ -d rt ] && grep -rqa "SECRET-MARKER-42" rt; then die "restored what lies behind a link"; fi
if [ -n "$(find rt -type l 2>/dev/null)" ]; then die "restore wrote a symlink"; fi
for db in $(find state -name '*.db'); do
	if sqlite3 "$db" .dump | grep -q "SECRET-MARKER-42\|md50000999001\|md50000999004"; then
		die "$db knows what lies behind a link or a special file"
	fi
done
for p in $(find state -name 'pack-*.tar.zst'); do
	if zstd -qdc "$p" | grep -qa "SECRET-MARKER-42"; then die "$p archived what lies behind a link"; fi
	if zstd -qdc "$p" | grep -qa "root:x:0:0"; then die "$p archived /etc/passwd"; fi
done
echo "planted: symlinks, $specials; $(grep -c . planted) entries left as they were"
