# Sourced by the CLI tests (tests/cli/*.sh): `check NAME CONDITION` counts a pass or prints "FAIL: NAME";
# `one_line TEXT` holds when TEXT is one non-empty line; `finish` prints the closing line and sets the exit.
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
one_line() { [ "$(printf '%s\n' "$1" | grep -c .)" -eq 1 ]; }
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
