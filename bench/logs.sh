#!/bin/sh
# bench/logs.sh - hiwater logs against logrotate (+ zstd -3 / + gzip) on the
# same 200 MB of MDaemon-style logs, measured in the same run: seconds and
# compressed size. Usage: bench/logs.sh [MB]   Needs: ./hiwater, logrotate, zstd.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
HW=${HIWATER:-$top/hiwater}
WORK=${WORK:-/tmp/hw-bench-logs}
MB=${1:-200}
rm -rf "$WORK"; mkdir -p "$WORK/src"
now() { date +%s.%N; }
secs() { awk "BEGIN { printf \"%.3f\", $2 - $1 }"; }
ratio() { awk "BEGIN { if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"-\" }"; }

day=$(date -d '3 days ago' +%Y-%m-%d)
log="MDaemon-$day-SMTP (in).log"
echo "generating $MB MB of SMTP log lines..."
python3 - "$WORK/src/$log" "$MB" "$day" <<'PY'
import sys, random
path, mb, day = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(7)
words = ["Accepting SMTP connection from", "Performing PTR lookup", "RCPT TO:",
         "MAIL FROM:", "250 2.1.0 Sender OK", "354 Enter mail", "DKIM signature verified",
         "SPF pass", "Message size:", "Connection closed", "Spam score:"]
with open(path, "w", newline="") as f:
    n = 0
    target = mb * 1024 * 1024
    i = 0
    while n < target:
        i += 1
        line = "%s %02d:%02d:%02d.%03d: [%d] Session %06d; %s <user%d@example%d.com> [192.0.2.%d:%d]\r\n" % (
            day, (i // 36000) % 24, (i // 600) % 60, (i // 10) % 60, i % 1000, random.randint(1, 64),
            i // 7, random.choice(words), random.randint(1, 5000), random.randint(1, 40),
            random.randint(1, 254), random.randint(1024, 65535))
        f.write(line)
        n += len(line)
PY
touch -d "$day 12:00" "$WORK/src/$log"
bytes=$(stat -c %s "$WORK/src/$log")

run_hw() {  # run_hw zstd|gzip
	rm -rf "$WORK/hw"; mkdir "$WORK/hw"; cp -p "$WORK/src/$log" "$WORK/hw/"; sync
	t0=$(now); "$HW" -q logs --dir "$WORK/hw" --compress "$1" >/dev/null; t=$(secs "$t0" "$(now)")
	echo "$t $(stat -c %s "$WORK/hw/"*)"
}
run_lr() {  # run_lr zstd|gzip
	rm -rf "$WORK/lr"; mkdir "$WORK/lr"; cp -p "$WORK/src/$log" "$WORK/lr/x.log"; sync
	if [ "$1" = zstd ]; then
		extra="compresscmd /usr/bin/zstd
    compressoptions -3 -q
    compressext .zst
    uncompresscmd /usr/bin/unzstd"
	else
		extra=""
	fi
	cat > "$WORK/lr.conf" <<EOC
$WORK/lr/x.log {
    rotate 5
    compress
    nodelaycompress
    missingok
    $extra
}
EOC
	t0=$(now); logrotate -f -s "$WORK/lr.state" "$WORK/lr.conf"; sync; t=$(secs "$t0" "$(now)")
	echo "$t $(stat -c %s "$WORK/lr/"x.log.1.*)"
}

set -- $(run_hw zstd); hz=$1; hzs=$2
set -- $(run_lr zstd); lz=$1; lzs=$2
set -- $(run_hw gzip); hg=$1; hgs=$2
set -- $(run_lr gzip); lg=$1; lgs=$2
echo
echo "log: $(awk "BEGIN{printf \"%.0f\", $bytes/1048576}") MiB"
printf '%-22s %8s %12s %8s\n' "" seconds bytes ratio
printf '%-22s %8s %12s %8s\n' "hiwater logs (zstd)" "$hz" "$hzs" "$(ratio "$bytes" "$hzs")"
printf '%-22s %8s %12s %8s\n' "logrotate + zstd -3" "$lz" "$lzs" "$(ratio "$bytes" "$lzs")"
printf '%-22s %8s %12s %8s\n' "hiwater logs (gzip)" "$hg" "$hgs" "$(ratio "$bytes" "$hgs")"
printf '%-22s %8s %12s %8s\n' "logrotate + gzip" "$lg" "$lgs" "$(ratio "$bytes" "$lgs")"
echo "speed vs logrotate+zstd: $(ratio "$lz" "$hz")x (target >= 1)   size vs it: $(ratio "$lzs" "$hzs") (>= 1 is smaller)"
echo "speed vs logrotate+gzip: $(ratio "$lg" "$hg")x               size vs it: $(ratio "$lgs" "$hgs")"
echo "(hiwater also decompresses and hashes the result before removing the original)"
rm -rf "$WORK"
