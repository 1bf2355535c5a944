# layout-lib.sh - helpers for the layout tests t03NN (sourced after lib.sh)

# make_fragmented DIR N BLOCKS: N message files md500000000NN.msg in DIR,
# grown 4 KiB at a time in turn with an fsync each (as a busy server
# fragments them), BLOCKS blocks each; mtimes an hour old
make_fragmented() {
	mkdir -p "$1"
	_r=0
	while [ $_r -lt "$3" ]; do
		_i=1
		while [ $_i -le "$2" ]; do
			dd if=/dev/urandom of="$1/$(printf 'md50%09d.msg' $_i)" bs=4096 count=1 \
				oflag=append conv=notrunc,fsync status=none
			_i=$((_i + 1))
		done
		_r=$((_r + 1))
	done
	find "$1" -maxdepth 1 -name '*.msg' -exec touch -d '1 hour ago' {} +
}

# snapshot DIR > FILE: name, mode, mtime and hash of every file
snapshot_files() {
	(cd "$1" && find . -type f ! -name '.hiwater-tmp.*' | LC_ALL=C sort | while read -r f; do
		printf '%s %s %s\n' "$f" "$(stat -c '%a %Y' "$f")" "$(sha256sum < "$f" | cut -c1-64)"
	done)
}
