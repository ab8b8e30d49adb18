# set -u, -e, -x, -o pipefail and friends. Fatal errors are run in a subshell and the
# status printed, since bash -c reports some top-level expansion errors as 127.
#### set-u-unset-var-stops
( set -u; echo "before"; echo "$nope"; echo "not reached" ); echo "status $?"
#### set-u-default-ok
set -u; echo "[${nope:-fallback}] [${nope-}]"; echo reached
#### set-u-set-empty-ok
set -u; e=; echo "[$e]"; echo reached
#### set-u-positional
( set -u; set -- a; echo "$1"; echo "$2"; echo no ); echo "status $?"
#### set-u-at-with-no-args-ok
set -u; set --; echo "[$@]" "$#"; echo ok
#### set-u-in-arithmetic
( set -u; echo $((undefined + 1)); echo no ); echo "status $?"
#### set-plus-u-turns-off
set -u; set +u; echo "[$nope]"; echo fine
#### set-e-stops-on-failure
( set -e; echo one; false; echo two ); echo "status $?"
#### set-e-top-level-exit-status
set -e; echo start; grep -q zzz notes.txt; echo not-reached
#### set-e-ignored-in-if-condition
set -e; if false; then echo no; fi; echo survived-if
#### set-e-ignored-in-and-or
set -e; false || echo recovered; false && echo no; echo survived
#### set-e-ignored-after-bang
set -e; ! true; echo survived-bang
#### set-e-pipeline-last-status
set -e; false | true; echo survived-pipe
#### set-e-in-function
( set -e; f() { echo in-f; false; echo after-false; }; f; echo after-f ); echo "status $?"
#### set-e-subshell-failure
( set -e; ( exit 3 ); echo no ); echo "status $?"
#### set-e-command-substitution-assignment
( set -e; x=$(false); echo "no $x" ); echo "status $?"
#### set-e-while-condition
set -e; i=0; while [ $i -lt 2 ]; do i=$((i + 1)); done; echo "i=$i"
#### pipefail-off-by-default
false | true; echo $?
#### pipefail-on
set -o pipefail; false | true; echo $?; true | false | true; echo $?; true | true; echo $?
#### pipefail-rightmost-failure
set -o pipefail; (exit 2) | (exit 3) | true; echo $?
#### pipefail-with-grep
set -o pipefail; grep zzz notes.txt | sort; echo $?
#### pipefail-and-set-e
( set -eo pipefail; false | true; echo no ); echo "status $?"
#### set-plus-o-pipefail
set -o pipefail; set +o pipefail; false | true; echo $?
#### set-x-trace
{ set -x; echo hi; set +x; } 2>&1
#### set-x-trace-expansion
{ set -x; v=world; echo "hello $v"; set +x; } 2>&1
#### set-x-trace-quoting
{ set -x; echo 'a b' c ''; set +x; } 2>&1
#### set-x-trace-loop
{ set -x; for i in 1 2; do echo "$i"; done; set +x; } 2>&1
#### set-x-trace-command-substitution
{ set -x; x=$(echo sub); echo "$x"; set +x; } 2>&1
#### set-x-trace-arith-and-test
{ set -x; n=2; [ $n -gt 1 ] && echo big; set +x; } 2>&1
#### set-x-trace-function
{ set -x; f() { echo "in f $1"; }; f arg; set +x; } 2>&1
#### set-dash-dash-then-option-like-args
set -- -x -e; echo "$# $1 $2"
#### set-e-false-last-command
set -e; true; false
#### set-u-unset-in-function-stops-script
( set -u; f() { echo "$undefined_thing"; }; f; echo no ); echo "status $?"
#### set-e-and-return-status-in-condition
set -e; f() { false; echo cont; }; if f; then echo f-true; fi; echo done
