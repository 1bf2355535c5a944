# crafted snapshot repositories: catalog rows with '..' and absolute names,
# packs replaced by other bytes, cut short, or by a symlink, a catalog that
# is not a database. Restore, find, verify and prune refuse what they must
# with a message (no crash, no hang), and nothing is written outside the
# target: not by restore --to, not by a restore into the store.
. "$HW_TOP/tests/e2e/lib.sh"

"$MKSTORE" --out store --domains 1 --mailboxes 2 --messages 40 --seed 41 --with-index >/dev/null
cat > p.yaml <<'YAML'
store: store
state_dir: state
YAML
expect_exit 0 hw -c p.yaml index
expect_exit 0 hw -c p.yaml snapshot create
mkdir -p outside
printf 'keep me\n' > outside/canary
cp -a state state.good
db=state/snapshots/catalog.db
mb=$(cd store && ls -d */* | LC_ALL=C sort | head -n 1)
tok=hwevil$$   # in every crafted name, to find what a bad restore would write
sweep() {   # nothing may appear outside the store, rt and the state: where
	# '..' from rt/DOMAIN/MAILBOX or store/... leads, and the absolute name
	for d in "$PWD" "$PWD/.." "$PWD/../.." /tmp; do
		find "$d" -maxdepth 3 -name "$tok*" 2>/dev/null |
			grep -v "^$PWD/\(store\|rt\|state\)" && die "written outside the target: see above"
	done
	[ "$(cat outside/canary)" = "keep me" ] || die "outside/canary changed"
	return 0
}
run() {     # run EXPECT... -- ARGS: exit in EXPECT, a message if not 0 or 1
	want_codes=$1; shift
	set +e
	timeout 60 "$HIWATER" -c p.yaml "$@" >run.out 2>run.err
	rc=$?
	set -e
	case " $want_codes " in *" $rc "*) ;; *)
		cat run.out run.err >&2; die "hiwater $* exited $rc, expected one of: $want_codes" ;;
	esac
	[ $rc -le 1 ] || [ -s run.err ] || die "hiwater $* exited $rc without a word"
}

# 1. names in the catalog: a folder path through '..' (file names with
# '..', absolute or through a subfolder live in compressed record sets:
# tests/unit/check_snapshot.c crafts those)
n=$(sqlite3 "$db" "SELECT count(*) FROM snap_path WHERE relpath LIKE '$mb/%'")
[ "$n" -ge 1 ] || die "no subfolder in $mb"
sqlite3 "$db" "
UPDATE snap_path SET relpath = '$mb/../../../$tok-folder.IMAP' WHERE id = (SELECT id FROM snap_path
	WHERE relpath LIKE '$mb/%' ORDER BY id LIMIT 1);"
run "0 1 2" restore --to rt "$mb"
grep -q "unsafe\|refused" run.err || { cat run.err >&2; die "crafted names were not refused"; }
run "0 1 2 65" restore "$mb"
sweep
if find rt store -name "$tok*" | grep -q .; then die "a crafted name was written"; fi
run "0 1 2 65" find --subject a
run "0 1 2" snapshot verify

# 2. packs: other bytes at the same place, cut short, a symlink to a file
# outside; verify says so, restore refuses, nothing half-written is left
pack=$(ls state.good/snapshots/packs/pack-*.tar.zst | head -n 1)
name=$(basename "$pack")
for how in garbage cut symlink; do
	rm -rf state rt && cp -a state.good state
	case $how in
	garbage) head -c "$(wc -c < "$pack")" /dev/urandom > "state/snapshots/packs/$name" ;;
	cut) head -c $(( $(wc -c < "$pack") / 2 )) "$pack" > "state/snapshots/packs/$name" ;;
	symlink) rm "state/snapshots/packs/$name"; ln -s /etc/passwd "state/snapshots/packs/$name" ;;
	esac
	run "1 2 65 74" snapshot verify
	run "1 2 65 74" restore --to rt "$mb"
	# whatever was restored is whole: the bytes of a message of the store
	if [ -d rt ]; then
		find rt -type f | while IFS= read -r f; do
			cmp -s "$f" "store/${f#rt/}" || die "$how: $f is not what the store holds"
		done
	fi
	if [ "$how" = symlink ] && [ -d rt ] && grep -rqa "root:x:0:0" rt; then
		die "restored /etc/passwd through a symlinked pack"
	fi
	sweep
done

# 3. a catalog that is not a database, or is cut short
for how in garbage cut; do
	rm -rf state rt && cp -a state.good state
	case $how in
	garbage) head -c 65536 /dev/urandom > "$db" ;;
	cut) head -c 4096 state.good/snapshots/catalog.db > "$db" ;;
	esac
	rm -f "$db-wal" "$db-shm"
	run "65 74 78" snapshot list
	run "65 74 78" restore --to rt "$mb"
	run "65 74 78" snapshot verify
	run "65 74 78 75" snapshot prune --keep-last 1
	sweep
done
