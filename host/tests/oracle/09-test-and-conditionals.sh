# test / [ ] and [[ ]]: string, numeric and file tests; if/elif/else.
#### test-z-and-n
e=; s=x; [ -z "$e" ] && echo e-empty; [ -n "$s" ] && echo s-nonempty; [ -z "$s" ]; echo $?; [ -n "$e" ]; echo $?
#### test-string-equal
a=foo; [ "$a" = foo ] && echo eq; [ "$a" != bar ] && echo ne; [ "$a" = bar ]; echo $?
#### test-numeric
[ 3 -eq 3 ] && echo eq; [ 2 -lt 3 ] && echo lt; [ 5 -gt 3 ] && echo gt; [ 3 -le 3 ] && echo le; [ 4 -ge 5 ] || echo not-ge; [ 1 -ne 2 ] && echo ne
#### test-numeric-negative-and-spaces
[ -5 -lt 2 ] && echo neg-lt; [ " 7" -eq 7 ] && echo spaced-eq
#### test-numeric-vs-string-compare
[ 10 -gt 9 ] && echo numeric-gt; [ "10" \< "9" ] && echo string-lt
#### test-file-ops
[ -e notes.txt ] && echo e; [ -f notes.txt ] && echo f; [ -d src ] && echo d; [ -f src ] || echo src-not-file; [ -d notes.txt ] || echo notes-not-dir; [ -e nope ] || echo nope-missing
#### test-s-nonempty-file
: > zero.txt; [ -s notes.txt ] && echo notes-s; [ -s zero.txt ] || echo zero-not-s; [ -s missing ] || echo missing-not-s
#### test-file-with-space
[ -f "a b.txt" ] && echo quoted-ok; [ -f a\ b.txt ] && echo escaped-ok
#### test-hidden-and-empty-dir
[ -f .hidden ] && echo hidden; [ -d empty ] && echo empty-dir
#### test-negation
[ ! -e nope ] && echo not-exists; ! [ -d notes.txt ] && echo bang-outside
#### test-a-and-o
[ -f notes.txt -a -d src ] && echo both; [ -f nope -o -d src ] && echo either; [ -f nope -a -d src ]; echo $?
#### test-keyword-form
test -d src && echo dir; test abc = abc; echo $?; test; echo $?
#### test-single-arg
[ x ] && echo nonempty-true; [ "" ] || echo empty-false
#### test-unquoted-empty-var-error
e=; [ $e = x ] 2>/dev/null; echo "status $?"
#### test-missing-bracket-error
[ a = a 2>/dev/null; echo "status $?"
#### test-integer-error
[ abc -eq 1 ] 2>/dev/null; echo "status $?"
#### if-elif-else
for n in 1 5 10; do if [ $n -lt 3 ]; then echo "$n small"; elif [ $n -lt 8 ]; then echo "$n medium"; else echo "$n large"; fi; done
#### if-status-no-branch
if false; then echo yes; fi; echo "status $?"
#### if-condition-is-list
if true; false; then echo yes; else echo no; fi
#### dbl-bracket-glob-match
f=main.rs; [[ $f == *.rs ]] && echo rs; [[ $f == m??n.rs ]] && echo qmark; [[ $f == [a-m]* ]] && echo range
#### dbl-bracket-quoted-rhs-literal
f=main.rs; [[ $f == "*.rs" ]] || echo quoted-literal; [[ '*.rs' == "*.rs" ]] && echo exact
#### dbl-bracket-not-equal
[[ abc != a* ]]; echo $?; [[ abc != x* ]]; echo $?
#### dbl-bracket-single-equals
[[ foo = f* ]] && echo glob-single-eq
#### dbl-bracket-regex
[[ abc123 =~ ^[a-z]+([0-9]+)$ ]] && echo "match ${BASH_REMATCH[0]} ${BASH_REMATCH[1]}"
#### dbl-bracket-regex-groups
v=key=value; if [[ $v =~ ^([^=]+)=(.*)$ ]]; then echo "k=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}"; fi
#### dbl-bracket-regex-no-match
[[ abc =~ ^[0-9]+$ ]]; echo $?
#### dbl-bracket-regex-from-variable
re='^v([0-9]+)\.([0-9]+)$'; [[ v1.42 =~ $re ]] && echo "${BASH_REMATCH[1]}-${BASH_REMATCH[2]}"
#### dbl-bracket-regex-quoted-literal
[[ a.c =~ "a.c" ]] && echo lit1; [[ abc =~ "a.c" ]] || echo lit2-no
#### dbl-bracket-regex-partial
[[ hello-world =~ lo-w ]] && echo substring-match
#### dbl-bracket-and-or
a=1; b=2; [[ $a == 1 && $b == 2 ]] && echo and; [[ $a == 9 || $b == 2 ]] && echo or; [[ ! $a == 9 ]] && echo not
#### dbl-bracket-grouping
[[ ( 1 == 1 || 1 == 2 ) && 3 == 3 ]] && echo grouped
#### dbl-bracket-string-less-greater
[[ apple < banana ]] && echo lt; [[ b > a ]] && echo gt; [[ B < a ]] && echo upper-first
#### dbl-bracket-z-n
e=; [[ -z $e ]] && echo z; [[ -n $e ]] || echo not-n; [[ -z $undefined ]] && echo undef-z
#### dbl-bracket-no-word-splitting
v='a b'; [[ $v == 'a b' ]] && echo no-split; e=; [[ $e == '' ]] && echo empty-ok
#### dbl-bracket-numeric
[[ 10 -gt 9 ]] && echo num-gt; [[ 10 > 9 ]] || echo str-not-gt; [[ 1+1 -eq 2 ]] && echo arith
#### dbl-bracket-file-tests
[[ -f notes.txt && -d src && ! -e missing ]] && echo files-ok
#### dbl-bracket-pattern-in-variable
p='*.txt'; [[ notes.txt == $p ]] && echo var-glob; [[ notes.txt == "$p" ]] || echo quoted-var-literal
#### and-or-list-precedence
false && echo a || echo b; true || echo c && echo d
#### test-equal-equal-in-single-bracket
[ abc == abc ] && echo double-eq-ok
#### test-string-lt-escaped
[ a \< b ] && echo a-lt-b; [ b \< a ] || echo b-not-lt-a
#### test-nonexistent-dir-and-file-created
mkdir newd && touch newd/f && [ -d newd ] && [ -f newd/f ] && echo created
