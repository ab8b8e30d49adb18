# The case statement: patterns, alternatives, globs, quoting, fallthrough.
#### simple-match
x=b; case $x in a) echo A;; b) echo B;; c) echo C;; esac
#### alternatives
for x in cat dog cow bird; do case $x in cat|dog) echo "$x: pet";; cow|pig) echo "$x: farm";; *) echo "$x: other";; esac; done
#### default-star
case zzz in a) echo a;; *) echo default;; esac
#### no-match-no-default-status-zero
false; case q in a) echo a;; esac; echo "status $?"
#### question-mark-pattern
for x in a ab abc; do case $x in ?) echo "$x one";; ??) echo "$x two";; *) echo "$x many";; esac; done
#### bracket-pattern
for x in apple Banana 7up _x; do case $x in [a-z]*) echo "$x lower";; [A-Z]*) echo "$x upper";; [0-9]*) echo "$x digit";; *) echo "$x other";; esac; done
#### negated-bracket
for x in a1 b1; do case $x in [!a]*) echo "$x not-a";; *) echo "$x is-a";; esac; done
#### glob-suffix-pattern
for f in main.rs notes.txt Cargo.toml; do case $f in *.rs) echo "$f rust";; *.txt|*.md) echo "$f text";; *) echo "$f ?";; esac; done
#### quoted-pattern-is-literal
x='a*'; case abc in "$x") echo literal-match;; *) echo no-literal;; esac; case 'a*' in "$x") echo exact;; esac
#### unquoted-variable-pattern-is-glob
p='a*'; case abc in $p) echo glob-match;; *) echo no;; esac
#### escaped-star-pattern
case 'x*' in x\*) echo escaped;; *) echo other;; esac; case xy in x\*) echo escaped;; *) echo other;; esac
#### first-match-wins
case abc in a*) echo first;; ab*) echo second;; esac
#### empty-string-match
x=; case $x in '') echo empty;; *) echo nonempty;; esac
#### fallthrough-with-semicolon-amp
case a in a) echo one;& b) echo two;; c) echo three;; esac
#### continue-testing-with-double-semi-amp
case abc in a*) echo starts-a;;& *c) echo ends-c;;& x*) echo starts-x;; *) echo always;; esac
#### paren-before-pattern
case y in (x) echo x;; (y) echo y;; esac
#### multiline-case
v=2
case $v in
  1)
    echo one
    ;;
  2)
    echo two
    echo still-two
    ;;
  *)
    echo many
esac
#### last-item-without-double-semi
case z in a) echo a;; z) echo z-last
esac
#### case-status-from-body
case a in a) false;; esac; echo "status $?"
#### case-in-function
kind() { case $1 in -*) echo flag;; *=*) echo assign;; *) echo word;; esac; }; kind -v; kind a=b; kind plain
#### case-with-command-substitution-word
case $(echo hello) in hel*) echo prefix-hel;; esac
#### case-word-not-split
x='a b'; case $x in 'a b') echo whole;; *) echo split;; esac
#### case-pattern-with-space-quoted
case "a b.txt" in *" "*) echo has-space;; esac
#### case-bracket-with-special
for c in - + x; do case $c in [-+]) echo "$c sign";; *) echo "$c other";; esac; done
#### case-pattern-from-variable-alternatives
a=x; b=y; for v in x y z; do case $v in $a|$b) echo "$v hit";; *) echo "$v miss";; esac; done
#### case-over-glob-results
for f in *; do case $f in *.*) ;; *) echo "no-dot: $f";; esac; done
#### quoted-star-pattern-literal
for v in '*' x; do case $v in '*') echo "$v star";; *) echo "$v any";; esac; done
