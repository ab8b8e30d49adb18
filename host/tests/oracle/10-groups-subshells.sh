# Brace groups { ...; } and subshells ( ... ): what leaks out and what does not.
#### brace-group-runs-in-current-shell
x=1; { x=2; echo "in $x"; }; echo "out $x"
#### subshell-variable-does-not-leak
x=1; ( x=2; echo "in $x" ); echo "out $x"
#### subshell-cd-does-not-leak
( cd src && cat lib.rs | head -n 1 ); cat notes.txt | head -n 1
#### brace-group-cd-leaks
{ cd src; }; cat util/mod.rs | head -n 1
#### subshell-exit-only-leaves-subshell
( echo inside; exit 3; echo not-here ); echo "after subshell status $?"
#### brace-group-exit-leaves-script
{ echo inside; exit 4; echo not-here; }; echo not-reached
#### group-redirect-all-output
{ echo one; echo two; } > out.txt; cat out.txt
#### subshell-redirect-all-output
( echo a; echo b ) > out.txt; wc -l < out.txt
#### group-into-pipe
{ echo c; echo a; echo b; } | sort
#### subshell-into-pipe
( printf '%s\n' 3 1 2 ) | sort -n
#### group-append
echo first > log.txt; { echo second; echo third; } >> log.txt; cat log.txt
#### group-status-is-last
{ true; false; }; echo $?; ( false; true ); echo $?
#### group-stdin-redirect
{ read -r a; read -r b; echo "$b|$a"; } < notes.txt
#### nested-subshells
x=0; ( x=1; ( x=2; echo "inner $x" ); echo "middle $x" ); echo "outer $x"
#### subshell-function-definition-does-not-leak
( f() { echo defined; }; f ); f 2>/dev/null; echo "status $?"
#### subshell-set-positional-does-not-leak
set -- a b; ( set -- x y z; echo "in $#" ); echo "out $#"
#### subshell-sees-parent-variables
v=parent; ( echo "sub sees $v" )
#### subshell-unset-does-not-leak
v=keep; ( unset v; echo "[${v-gone}]" ); echo "[$v]"
#### group-in-and-or
false || { echo recovering; echo done; }; true && ( echo sub-ran )
#### group-on-one-line-needs-semicolon
{ echo a; echo b;}
#### multiline-group
{
  echo line1
  echo line2
} | tail -n 1
#### subshell-file-changes-persist
( echo created > made.txt ); cat made.txt
#### subshell-export-does-not-leak
( export NEWVAR=inside ); echo "[${NEWVAR-unset}]"
#### group-with-stderr-redirect
{ echo out; echo err >&2; } 2>/dev/null
#### subshell-stderr-to-stdout
( echo to-err >&2 ) 2>&1
#### subshell-in-condition
if ( cd src 2>/dev/null ); then echo can-cd; fi; if ! ( cd nowhere 2>/dev/null ); then echo cannot-cd; fi
#### group-output-captured
x=$({ echo a; echo b; } | tr '\n' ,); echo "$x"
#### pipe-side-is-subshell
x=1; echo 5 | { read -r x; echo "in pipe $x"; }; echo "after $x"
#### while-in-pipe-does-not-leak
n=0; printf '%s\n' a b c | while read -r l; do n=$((n + 1)); done; echo "n=$n"
#### subshell-cd-then-relative-paths
( cd src/util; cat mod.rs ) | head -n 1; [ -f src/lib.rs ] && echo still-at-top
