# hiwater logs: today's files untouched, old ones compressed (zstd -d and
# gunzip give the originals back), retention by age and total size, a kill
# during compression loses nothing, size rotation by rename + create
. "$HW_TOP/tests/e2e/lib.sh"

# mklog DAYS_AGO SERVICE LINES: an MDaemon-style daily log dated DAYS_AGO
mklog() {
	_d=$(date -d "12:00 $1 days ago" +%Y-%m-%d)
	_f="logs/MDaemon-$_d-$2.log"
	seq 1 "$3" | sed "s/^/$_d 10:00:00 [smtp] Session 1234; accepting connection from 192.0.2./" > "$_f"
	touch -d "$_d 12:00" "$_f"
	echo "$_f"
}
mkdir logs
today=$(mklog 0 "SMTP (in)" 2000); touch "$today"
yday=$(mklog 1 "SMTP (in)" 2000)
old3=$(mklog 3 "SMTP (in)" 20000)
old10=$(mklog 10 IMAP 20000)
old40=$(mklog 40 IMAP 20000)
for f in "$today" "$yday" "$old3" "$old10" "$old40"; do cp -p "$f" "$f.orig"; done
mkdir orig && mv logs/*.orig orig/
before_today=$(stat -c '%i %Y %s' "$today")

expect_exit 0 hw logs -n --dir logs --max-age 30
grep_out "would_compress: *2"
grep_out "would_delete: *1"
[ "$(ls logs | wc -l)" = 5 ] || die "dry run changed the directory"

expect_exit 0 hw logs --dir logs --max-age 30
[ "$(stat -c '%i %Y %s' "$today")" = "$before_today" ] || die "today's file touched"
[ -f "$yday" ] || die "yesterday's file went (keep-days 1)"
[ ! -e "$old3" ] && [ -f "$old3.zst" ] || die "3 days old: not compressed"
[ ! -e "$old10" ] && [ -f "$old10.zst" ] || die "10 days old: not compressed"
[ ! -e "$old40" ] && [ ! -e "$old40.zst" ] || die "40 days old: not deleted"
zstd -dc "$old3.zst" | cmp -s - "orig/$(basename "$old3").orig" || die "zstd -d differs from the original"
zstd -dc "$old10.zst" | cmp -s - "orig/$(basename "$old10").orig" || die "zstd -d differs (10)"
[ "$(stat -c %Y "$old3.zst")" = "$(stat -c %Y "orig/$(basename "$old3").orig")" ] || die "mtime not kept"

# gzip, and retention by total size: oldest first, today's never
old5=$(mklog 5 POP 20000); cp "$old5" orig/p5
expect_exit 0 hw logs --dir logs --compress gzip
gunzip -c "$old5.gz" | cmp -s - orig/p5 || die "gunzip differs from the original"
expect_exit 0 hw logs --dir logs --max-total 1 --json
out | tail -n 1 | grep -q '"deleted":4' || { out >&2; die "max-total: 4 deletions expected"; }
[ "$(ls logs)" = "$(basename "$today")" ] || die "only today's file should be left"

# a kill while compressing: the original or a verified copy, never neither
big=$(mklog 2 "SMTP (out)" 3000000); cp "$big" orig/big
for delay in 0.05 0.2 0.5; do
	"$HIWATER" logs --dir logs >/dev/null 2>&1 &
	pid=$!
	sleep $delay
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	if [ -f "$big" ]; then
		cmp -s "$big" orig/big || die "original damaged by a kill"
	else
		zstd -dc "$big.zst" | cmp -s - orig/big || die "only a bad copy left after a kill"
	fi
	[ -f "$big" ] && break   # killed in the middle: go on to the rerun
	rm -f "$big.zst"; cp -p orig/big "$big"; touch -d "2 days ago" "$big"
done
expect_exit 0 hw logs --dir logs
[ ! -e "$big" ] && zstd -dc "$big.zst" | cmp -s - orig/big || die "rerun did not finish the job"
[ -z "$(ls -a logs | grep hiwater-tmp)" ] || die "temp left after the rerun"

# size-triggered rotation: rename + create, post-rotate command, keep N
mkdir app
seq 1 5000 > app/app.log; chmod 0640 app/app.log
expect_exit 0 hw logs --rotate app/app.log --size 1k --keep 3 --post-rotate "touch $PWD/reopened"
[ -f reopened ] || die "post-rotate command not run"
[ -f app/app.log ] && [ ! -s app/app.log ] || die "no new empty log"
[ "$(stat -c %a app/app.log)" = 640 ] || die "mode not kept"
seq 1 5000 > expected.log
[ -f app/app.log.1.zst ] && zstd -dc app/app.log.1.zst | cmp -s - expected.log || die "rotated log differs"
expect_exit 0 hw logs --rotate app/app.log --size 1k
[ ! -e app/app.log.2.zst ] || die "empty log rotated"

# usage
expect_exit 64 hw logs
expect_exit 64 hw logs --dir logs --compress lz4
expect_exit 64 hw logs --rotate app/app.log
