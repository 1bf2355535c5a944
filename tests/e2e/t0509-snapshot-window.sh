# snapshot create --window: new content is packed in similarity order
# (normalised subject first) within the window; --window 0 packs it in
# directory order; a bad value is a usage error. Restores are the same.
. "$HW_TOP/tests/e2e/lib.sh"

export HIWATER_STORE=$PWD/store HIWATER_STATE=$PWD/state
f=store/ex.com/bob
mkdir -p "$f"
printf 'Subject: zebra\n\nz\n' > "$f/md50000000001.msg"
printf 'Subject: apple\n\na\n' > "$f/md50000000002.msg"
printf 'Subject: Re: apple\n\nra\n' > "$f/md50000000003.msg"
members() { bsdtar -tf "$1"/packs/pack-*.tar.zst | sed 's,.*/,,' | tr '\n' ' '; }

expect_exit 0 hw snapshot create --repo sorted --window 1
[ "$(members sorted)" = "md50000000002.msg md50000000003.msg md50000000001.msg " ] ||
	die "similarity order expected, got: $(members sorted)"
expect_exit 0 hw snapshot create --repo plain --window 0
[ "$(members plain)" = "md50000000001.msg md50000000002.msg md50000000003.msg " ] ||
	die "directory order expected, got: $(members plain)"
for r in sorted plain; do
	expect_exit 0 hw restore --repo "$r" --to "out-$r" ex.com/bob
	for m in 1 2 3; do
		cmp "out-$r/ex.com/bob/md5000000000$m.msg" "$f/md5000000000$m.msg" ||
			die "$r: message $m differs"
	done
done
expect_exit 64 hw snapshot create --repo bad --window lots
grep_err "window"
[ ! -e bad ] || die "a usage error created a repository"

# the policy's snapshots: reorder_window, when neither --window nor the
# environment sizes it; the command line wins over the policy
printf 'snapshots:\n  reorder_window: 0\n' > pol.yaml
expect_exit 0 hw -c pol.yaml snapshot create --repo pol-plain
[ "$(members pol-plain)" = "md50000000001.msg md50000000002.msg md50000000003.msg " ] ||
	die "policy reorder_window 0: directory order expected, got: $(members pol-plain)"
expect_exit 0 hw -c pol.yaml snapshot create --repo pol-cli --window 1
[ "$(members pol-cli)" = "md50000000002.msg md50000000003.msg md50000000001.msg " ] ||
	die "--window over the policy: similarity order expected, got: $(members pol-cli)"
printf 'snapshots:\n  reorder_window: 1MB\n' > pol1.yaml
(export HIWATER_SNAPSHOT_WINDOW=0; expect_exit 0 hw -c pol1.yaml snapshot create --repo pol-env)
[ "$(members pol-env)" = "md50000000001.msg md50000000002.msg md50000000003.msg " ] ||
	die "the environment over the policy: directory order expected, got: $(members pol-env)"
printf 'snapshots:\n  reorder_window: lots\n' > polbad.yaml
expect_exit 78 hw -c polbad.yaml snapshot create --repo pol-bad
grep_err "reorder_window\|expected a size"

# a malformed HIWATER_SNAPSHOT_WINDOW is named in a warning (exit 1) and
# ignored: the snapshot is still made, with the default window (similarity
# order), or the policy's when it has one
(export HIWATER_SNAPSHOT_WINDOW=lots; expect_exit 1 hw snapshot create --repo env-bad)
grep_err "HIWATER_SNAPSHOT_WINDOW: 'lots'"
[ "$(members env-bad)" = "md50000000002.msg md50000000003.msg md50000000001.msg " ] ||
	die "bad HIWATER_SNAPSHOT_WINDOW: default (similarity) order expected, got: $(members env-bad)"
(export HIWATER_SNAPSHOT_WINDOW=lots; expect_exit 1 hw -c pol.yaml snapshot create --repo env-bad-pol)
grep_err "HIWATER_SNAPSHOT_WINDOW: 'lots'"
[ "$(members env-bad-pol)" = "md50000000001.msg md50000000002.msg md50000000003.msg " ] ||
	die "bad HIWATER_SNAPSHOT_WINDOW: the policy's reorder_window 0 (directory order) expected, got: $(members env-bad-pol)"
