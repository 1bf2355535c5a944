#!/bin/sh
# seeds.sh DIR - seed corpora for the fuzz targets, made at build time (only
# the few tiny policy seeds are committed): DIR/imapmrk, DIR/hiwatermrk,
# DIR/msghdr, DIR/policy, DIR/pack. Needs HIWATER and MKSTORE; takes real
# messages from the shared corpora when they are there (HW_SHARED).
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
shared=${HW_SHARED:-$top/../shared}
rm -rf "$out" && mkdir -p "$out"/imapmrk "$out"/hiwatermrk "$out"/msghdr "$out"/policy "$out"/pack
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hiwater-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# a small generated store: index files and messages
"$MKSTORE" --out "$tmp/store" --domains 1 --mailboxes 2 --messages 40 --seed 11 --with-index >/dev/null
i=0
find "$tmp/store" -name IMAP.MRK | sort | head -n 12 | while read -r f; do
	i=$((i + 1)); cp "$f" "$out/imapmrk/store-$i"; done
find "$tmp/store" -name HIWATER.MRK | sort | head -n 8 | while read -r f; do
	i=$((i + 1)); cp "$f" "$out/hiwatermrk/store-$i"; done
find "$tmp/store" -iname '*.msg' | sort | head -n 30 | while read -r f; do
	i=$((i + 1)); head -c 8192 "$f" > "$out/msghdr/store-$i"; done
cp "$top"/tests/fixtures/imapmrk/good/* "$top"/tests/fixtures/imapmrk/corrupt/* "$out/imapmrk/" 2>/dev/null || true
for f in "$top"/tests/fixtures/hiwatermrk/*.mrk; do cp "$f" "$out/hiwatermrk/"; done

# real and malformed messages: the tricky corpus (the smaller ones) and a
# sample of the Enron inboxes, header blocks only
if [ -f "$shared/corpora/tricky.tar.zst" ]; then
	mkdir -p "$tmp/tricky"
	tar --zstd -xf "$shared/corpora/tricky.tar.zst" -C "$tmp/tricky"
	find "$tmp/tricky" -type f -size -48k | sort | head -n 250 | while read -r f; do
		i=$((i + 1)); head -c 16384 "$f" > "$out/msghdr/tricky-$i"; done
fi
if [ -f "$shared/corpora/enron-inbox.tar.zst" ]; then
	mkdir -p "$tmp/enron"
	tar --zstd -xf "$shared/corpora/enron-inbox.tar.zst" -C "$tmp/enron" --wildcards '*/allen-p/*' \
		2>/dev/null || true
	find "$tmp/enron" -type f | sort | head -n 40 | while read -r f; do
		i=$((i + 1)); head -c 8192 "$f" > "$out/msghdr/enron-$i"; done
fi

# policies: the committed seeds and the contrib example
cp "$here"/seeds/policy/*.yaml "$out/policy/"
cp "$top/contrib/hiwater.yaml" "$out/policy/contrib.yaml"

# packs: segments as the snapshot writer makes them (tar members in a zstd
# frame), and hostile ones: '..' and absolute names, a symlink and a hard
# link member, a member whose header lies about its size, cut-short frames
p=$tmp/p
mkdir -p "$p/ex.com/bob"
find "$tmp/store" -iname '*.msg' | sort | head -n 3 | while read -r f; do cp "$f" "$p/ex.com/bob/"; done
(cd "$p" && tar --format=pax -cf "$tmp/good.tar" ex.com)
zstd -q -c "$tmp/good.tar" > "$out/pack/good.tar.zst"
head -c $(( $(wc -c < "$out/pack/good.tar.zst") / 2 )) "$out/pack/good.tar.zst" > "$out/pack/cut.tar.zst"
(cd "$p" && tar --format=pax --transform 's,^,../../,' -cf - ex.com) | zstd -q -c > "$out/pack/dotdot.tar.zst"
(cd "$p" && tar --format=pax -P --transform 's,^,/tmp/,' -cf - ex.com) | zstd -q -c > "$out/pack/abs.tar.zst"
ln -s /etc/passwd "$p/ex.com/bob/link.msg"
(cd "$p" && tar --format=pax -cf - ex.com/bob/link.msg) | zstd -q -c > "$out/pack/symlink.tar.zst"
rm "$p/ex.com/bob/link.msg"
m=$(ls "$p/ex.com/bob" | head -n 1)
ln "$p/ex.com/bob/$m" "$p/ex.com/bob/hard.msg"
(cd "$p" && tar --format=ustar -cf - "ex.com/bob/$m" ex.com/bob/hard.msg) | zstd -q -c > "$out/pack/hardlink.tar.zst"
rm "$p/ex.com/bob/hard.msg"
# a ustar member that says it holds 8 GiB: size field patched, checksum redone
(cd "$p" && tar --format=ustar -cf "$tmp/lie.tar" "ex.com/bob/$m")
printf '77777777777\000' | dd of="$tmp/lie.tar" bs=1 seek=124 conv=notrunc status=none
printf '        ' | dd of="$tmp/lie.tar" bs=1 seek=148 conv=notrunc status=none
sum=$(head -c 512 "$tmp/lie.tar" | od -An -tu1 -v | tr -s ' ' '\n' | awk '{ s += $1 } END { print s }')
printf '%06o\000 ' "$sum" | dd of="$tmp/lie.tar" bs=1 seek=148 conv=notrunc status=none
zstd -q -c "$tmp/lie.tar" > "$out/pack/lying-size.tar.zst"
# and a real pack from a snapshot of the generated store
mkdir -m 700 "$tmp/state"
"$HIWATER" -q --store "$tmp/store" --state "$tmp/state" snapshot create >/dev/null 2>&1 || true
for f in "$tmp"/state/snapshots/packs/pack-*.tar.zst; do
	[ -f "$f" ] && head -c 262144 "$f" > "$out/pack/snapshot-$(basename "$f")"
done
echo "seeds: $(for d in "$out"/*; do printf '%s %s  ' "$(basename "$d")" "$(ls "$d" | wc -l)"; done)"
