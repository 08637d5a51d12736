# Shared helpers for the benchmark scripts (bench-io, bench-boot, bench-vsock). Sourced.
#
# Every benchmark runs the monitors interleaved, round after round, and keeps
# every round's figure: one file of numbers per cell. A cell is reported as
# its median and its min–max spread, and two monitors are compared by the
# ratio of their medians and by whether their spreads overlap (then neither
# is declared the winner: the benchmark cannot tell them apart).

# bench_stats FILE: "median min max" of the numbers in FILE (one a line).
bench_stats() {
	sort -g "$1" | awk '{v[NR]=$1} END { if (!NR) { print "- - -"; exit }
		m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; print m, v[1], v[NR] }'
}

# bench_cell FILE: "median (min–max)" (a decimal below 100), or "-" without figures.
bench_cell() {
	[ -s "$1" ] || { echo "-"; return; }
	bench_stats "$1" | awk '{ f = $1 < 100 ? "%.1f (%.1f–%.1f)" : "%.0f (%.0f–%.0f)"; printf f, $1, $2, $3 }'
}

# bench_ratio A_FILE B_FILE: median(A) / median(B), two decimals.
bench_ratio() {
	[ -s "$1" ] && [ -s "$2" ] || { echo "-"; return; }
	awk -v a="$(bench_stats "$1" | cut -d' ' -f1)" -v b="$(bench_stats "$2" | cut -d' ' -f1)" \
		'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

# bench_verdict A_FILE B_FILE A_NAME B_NAME higher|lower: who is ahead with
# non-overlapping spreads ("higher": more is better), or "overlap"; with
# fewer than 3 rounds of either, "too few rounds" (one figure has no spread).
bench_verdict() {
	[ -s "$1" ] && [ -s "$2" ] || { echo "-"; return; }
	if [ "$(wc -l <"$1")" -lt 3 ] || [ "$(wc -l <"$2")" -lt 3 ]; then
		echo "too few rounds"
		return
	fi
	local a b
	a=$(bench_stats "$1") b=$(bench_stats "$2")
	awk -v a="$a" -v b="$b" -v an="$3" -v bn="$4" -v dir="$5" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		if (x[2] > y[3]) w = dir == "higher" ? an : bn
		else if (x[3] < y[2]) w = dir == "higher" ? bn : an
		if (w) print w " ahead"; else print "overlap" }'
}

# bench_plot TSV PNG TITLE YLABEL: one panel per cell (column 1), per-round
# figures (column 3: round, column 4: value) of each monitor (column 2), so
# noise and trend show at a glance. Needs gnuplot (gnuplot-nox); without it,
# says so and leaves the TSV.
bench_plot() {
	local tsv=$1 png=$2 title=$3 ylabel=$4
	if ! command -v gnuplot >/dev/null; then
		log "gnuplot is missing (apt-get install gnuplot-nox): no plot, figures in $tsv"
		return 0
	fi
	local d cells monitors n cols rows maxr script c m i first
	d=$(mktemp -d)
	cells=$(cut -f1 "$tsv" | awk '!s[$0]++')
	monitors=$(cut -f2 "$tsv" | awk '!s[$0]++')
	maxr=$(cut -f3 "$tsv" | sort -n | tail -1)
	n=$(echo "$cells" | wc -l)
	cols=$((n < 4 ? n : 4))
	rows=$(((n + cols - 1) / cols))
	script="set terminal pngcairo size $((cols * 360)),$((rows * 280 + 40)) font ',9'
set output '$png'
set multiplot layout $rows,$cols title '$title'
set key bottom right
set xlabel 'round'
set ylabel '$ylabel'
set xrange [0.5:$maxr.5]
set yrange [0:*]
set xtics 1
"
	i=0
	while read -r c; do
		i=$((i + 1))
		script+="set title '$c'
plot "
		first=1
		for m in $monitors; do
			# One file per line: a line breaks at every row that is not its own.
			awk -F'\t' -v c="$c" -v m="$m" '$1 == c && $2 == m {print $3, $4}' "$tsv" >"$d/$i-$m"
			[ $first = 1 ] || script+=", "
			first=0
			script+="'$d/$i-$m' using 1:2 with linespoints title '$m'"
		done
		script+="
"
	done <<<"$cells"
	script+="unset multiplot
"
	gnuplot <<<"$script" && log "plot: $png"
	rm -rf "$d"
}

# bench_in_rig NAME TITLE YLABEL SCRIPT ARGS...: runs SCRIPT ARGS inside
# tools/rig (tools/kvm-run) with KESTREL_BENCH_INNER set and never rerun (a
# rerun would mix two sets of figures), then writes docs/bench/NAME.md (the
# last table printed: a run cut short still leaves its figures),
# docs/bench/NAME.tsv (every round's figures) and NAME.png (their plot).
# Returns the run's status.
bench_in_rig() {
	local name=$1 title=$2 ylabel=$3 out st
	shift 3
	export KESTREL_BENCH_INNER=1 KESTREL_RIG_RETRIES=0
	mkdir -p docs/bench
	out=docs/bench/$name
	set +e
	tools/kvm-run "$@" 2>&1 | tee "$out.log"
	st=${PIPESTATUS[0]}
	set -e
	awk '/^BENCH-TABLE-BEGIN/ {t=""; on=1; next} /^BENCH-TABLE-END/ {on=0; last=t; next}
		on {t = t $0 "\n"} END {printf "%s", last}' "$out.log" >"$out.md"
	grep -a '^BENCH-ROW' "$out.log" | cut -f2- >"$out.tsv" || true
	[ -s "$out.tsv" ] && bench_plot "$out.tsv" "$out.png" "$title" "$ylabel"
	rm -f "$out.log"
	[ "$st" = 0 ] || log "FAILED (status $st); the figures measured are in $out.md and $out.tsv"
	return "$st"
}
