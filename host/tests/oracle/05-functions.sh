# Shell functions: arguments, local, return, recursion, scoping.
#### define-and-call
greet() { echo "hello $1"; }; greet world; greet
#### function-keyword
function shout { echo "LOUD $*"; }; shout a b
#### function-keyword-with-parens
function f() { echo "f called"; }; f
#### args-and-count
f() { echo "$# args: $1|$2|$3"; }; f a "b c" d
#### args-preserve-spaces
f() { printf '<%s>\n' "$@"; }; f "one two" three ""
#### positional-restored-after-call
set -- outer1 outer2; f() { echo "in: $*"; }; f inner; echo "out: $* ($#)"
#### return-status
f() { return 3; }; f; echo "status $?"
#### return-without-value-uses-last-status
f() { false; return; }; f; echo "status $?"
#### implicit-status-of-last-command
f() { true; false; }; f; echo "status $?"
#### return-stops-function
f() { echo before; return 0; echo after; }; f; echo done
#### local-does-not-leak
x=global; f() { local x=inner; echo "in $x"; }; f; echo "out $x"
#### global-assignment-leaks
f() { y=set-in-f; }; f; echo "y=$y"
#### local-without-value
x=g; f() { local x; echo "[${x-unset}]"; x=1; }; f; echo "$x"
#### local-dynamic-scope
x=global; show() { echo "show sees $x"; }; f() { local x=from-f; show; }; f; show
#### local-multiple
f() { local a=1 b=2 c; c=$((a + b)); echo "$a $b $c"; }; f; echo "[$a$b$c]"
#### recursion-factorial
fact() { if [ "$1" -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(( $1 - 1 ))) )); fi; }; fact 10
#### recursion-with-local
count() { local n=$1; [ "$n" -eq 0 ] && return; echo "n=$n"; count $((n - 1)); echo "back $n"; }; count 3
#### fibonacci
fib() { local n=$1; if ((n < 2)); then echo $n; return; fi; local a b; a=$(fib $((n-1))); b=$(fib $((n-2))); echo $((a + b)); }; fib 8
#### redefine-function
f() { echo first; }; f; f() { echo second; }; f
#### function-overrides-builtin-name
echo() { printf 'wrapped:%s\n' "$*"; }; echo hi there
#### function-shadows-cat
cat() { printf 'not cat: %s\n' "$1"; }; cat notes.txt
#### function-output-in-pipe
f() { printf '%s\n' c a b; }; f | sort
#### function-with-redirect
f() { echo "to file"; }; f > out.txt; cat out.txt
#### function-body-redirect-in-definition
f() { echo inside; } > log.txt; f; f; cat log.txt
#### unset-function
f() { echo yes; }; f; unset -f f; f 2>/dev/null; echo "status $?"
#### function-sees-caller-locals
outer() { local v=outer-local; inner; }; inner() { echo "inner sees $v"; }; outer; echo "[$v]"
#### dollar-hash-in-function
f() { echo $#; shift; echo $#; }; f a b c
#### return-value-range
f() { return 300; }; f; echo $?
#### function-exit-stops-script
f() { echo in-f; exit 4; }; f; echo not-reached
#### function-defined-later-not-found
g 2>/dev/null; echo "status $?"; g() { echo now; }; g
#### function-in-if-condition
isbig() { [ "$1" -gt 10 ]; }; for n in 5 50; do if isbig $n; then echo "$n big"; else echo "$n small"; fi; done
#### function-modifies-global-counter
n=0; inc() { n=$((n + 1)); }; inc; inc; inc; echo $n
#### function-with-local-ifs
f() { local IFS=,; set -- $1; echo "$# [$2]"; }; f "a,b,c"; v="x y"; set -- $v; echo $#
#### function-name-with-dash-and-underscore
my_fn() { echo under; }; my-fn() { echo dash; }; my_fn; my-fn
#### nested-function-definition
outer() { inner() { echo inner-defined; }; }; outer; inner
#### function-return-in-loop
find_first() { for x in "$@"; do if [ "$x" = b ]; then echo "found $x"; return 0; fi; done; return 1; }; find_first a b c; echo $?; find_first x y; echo $?
#### multiline-function
f() {
  local a=$1
  local b=$2
  echo "$b $a"
}
f one two
#### function-captures-return-via-subst
double() { echo $(( $1 * 2 )); }; r=$(double 21); echo "r=$r"
#### local-in-subshell-call-preserves
x=1; f() { local x=2; ( x=3; echo "sub $x" ); echo "f $x"; }; f; echo "top $x"
