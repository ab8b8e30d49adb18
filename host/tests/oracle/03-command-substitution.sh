# Command substitution: $(...) and `...`, nesting, splitting, trailing newlines.
#### basic-dollar-paren
x=$(echo hello); echo "[$x]"
#### backquotes
x=`echo hi there`; echo "[$x]"
#### nested-dollar-paren
echo "[$(echo a$(echo b$(echo c)))]"
#### nested-in-double-quotes
x="$(echo "inner $(echo deep)")"; echo "[$x]"
#### trailing-newlines-stripped
x=$(printf 'a\n\n\n'); echo "[$x]"
#### inner-newlines-kept-quoted
x=$(printf 'a\nb\n'); echo "[$x]"
#### unquoted-splits-on-newlines
printf '<%s>\n' $(printf 'a b\nc\n')
#### quoted-no-split
printf '<%s>\n' "$(printf 'a b\nc\n')"
#### leading-whitespace-kept-quoted
x=$(printf '  lead'); echo "[$x]"
#### unquoted-glob-expands
printf '<%s>\n' $(echo '*.csv')
#### cat-file
x=$(cat data.csv); echo "$x" | head -n 2
#### exit-status-of-substitution
x=$(false); echo "status $?"; y=$(true); echo "status $?"
#### status-from-last-command-inside
x=$(echo out; exit 3); echo "$? [$x]"
#### assignment-no-split
x=$(printf 'a   b'); echo "[$x]"
#### substitution-in-arg-count
set -- $(echo one two three); echo $#
#### empty-substitution-removed
printf '<%s>\n' a $(true) b
#### empty-substitution-quoted-kept
printf '<%s>\n' a "$(true)" b
#### substitution-is-subshell
x=1; y=$(x=2; echo $x); echo "$x $y"
#### cd-inside-substitution-does-not-leak
y=$(cd src && cat lib.rs | head -n 1); echo "$y"; cat Cargo.toml | head -n 1
#### backquote-with-escaped-dollar
v=out; echo `echo \$v`
#### backquote-nested-escaped
echo `echo a \`echo b\``
#### substitution-in-for
for w in $(echo x y z); do printf '%s.' "$w"; done; echo
#### substitution-of-function
f() { echo "from f $1"; }; x=$(f arg); echo "[$x]"
#### substitution-with-pipeline
n=$(grep -c apple notes.txt); echo "n=$n"
#### substitution-with-case-paren
x=$(case a in a) echo matched;; esac); echo "$x"
#### substitution-only-newlines
x=$(printf '\n\n'); echo "[$x] ${#x}"
#### substitution-stderr-not-captured
x=$(echo visible; echo hidden >&2); echo "[$x]"
#### substitution-concat
echo pre$(echo mid)post
