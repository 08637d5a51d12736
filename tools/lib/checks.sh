# Pass/fail bookkeeping for the shell tests in tools/. Sourced, never run.
# check STATUS DESCRIPTION   records one check (STATUS 0 = passed)
# checks_done                prints "N passed, N failed" and returns non-zero on any failure
passed=0 failed=0
check() {
	if [ "$1" = 0 ]; then
		passed=$((passed + 1))
		echo "ok: $2"
	else
		failed=$((failed + 1))
		echo "FAIL: $2"
	fi
}
checks_done() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
