#!/bin/sh
# Makes tests/data/snap-v3.tar.zst: a small store and a snapshot repository
# written by hiwater 842c392 (catalog schema 3), for the schema 3 -> 4
# upgrade test in tests/unit/check_snapshot.c. Run once with the old binary:
#   git worktree add /tmp/old 842c392 && make -C /tmp/old -j2
#   HIWATER=/tmp/old/hiwater sh tests/data/mkfixture-v3.sh
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
HW=${HIWATER:?set HIWATER to a hiwater built from 842c392}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
export HIWATER_STORE=$W/store HIWATER_STATE=$W/state TZ=UTC
msg() {   # FILE ID SUBJECT
	mkdir -p "$(dirname "$1")"
	printf 'From: %s <%s@ex.com>\nSubject: %s\nMessage-ID: <%s@ex.com>\nDate: Mon, 2 Nov 2026 10:00:00 +0000\n\n%s body\n' \
		"$2" "$2" "$3" "$2" "$2" > "$1"
}
msg "store/ex.com/bob/md50000000001.msg" m1 "first"
msg "store/ex.com/bob/md50000000002.msg" m2 "second"
msg "store/ex.com/bob/Sent Items.IMAP/md50000000001.msg" m3 "sent one"
msg "store/ex.com/amy/md50000000003.msg" m4 "amy's"
"$HW" snapshot create -q --label s1
# the content of bob's message now only in amy's folder, under another name:
# after prune, its pack member keeps bob's name as text in the catalog
cp store/ex.com/bob/md50000000001.msg store/ex.com/amy/md50000000007.msg
rm store/ex.com/bob/md50000000001.msg
"$HW" snapshot create -q --label s2
"$HW" snapshot prune -q --keep-last 1
msg "store/ex.com/bob/md50000000004.msg" m5 "fifth"
"$HW" snapshot create -q --label s3
[ "$(sqlite3 state/snapshots/catalog.db "SELECT version FROM schema_version WHERE module = 'snapshot'")" = 3 ]
mv state/snapshots repo
tar --zstd -cf "$top/tests/data/snap-v3.tar.zst" --owner=0 --group=0 --numeric-owner \
	--exclude=lock --exclude=packs.lock store repo
ls -l "$top/tests/data/snap-v3.tar.zst"
