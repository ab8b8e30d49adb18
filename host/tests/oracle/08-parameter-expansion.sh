# Parameter expansion operators. ${v:?msg} errors are checked by exit status only.
#### default-colon-dash
unset u; e=; s=set; echo "[${u:-d}] [${e:-d}] [${s:-d}]"
#### default-dash
unset u; e=; s=set; echo "[${u-d}] [${e-d}] [${s-d}]"
#### default-does-not-assign
unset u; echo "${u:-tmp}"; echo "[${u}]"
#### assign-colon-equals
unset u; e=; echo "[${u:=A}] [${e:=B}]"; echo "[$u] [$e]"
#### assign-equals
unset u; e=; echo "[${u=A}] [${e=B}]"; echo "[$u] [$e]"
#### alternate-colon-plus
unset u; e=; s=set; echo "[${u:+alt}] [${e:+alt}] [${s:+alt}]"
#### alternate-plus
unset u; e=; s=set; echo "[${u+alt}] [${e+alt}] [${s+alt}]"
#### error-colon-question-unset
( unset u; echo "${u:?is unset}"; echo not-reached ); echo "status $?"
#### error-colon-question-empty
( e=; echo "${e:?is empty}"; echo not-reached ); echo "status $?"
#### error-question-empty-ok
e=; echo "[${e?unset}]"; echo reached
#### error-colon-question-set-ok
s=val; echo "${s:?oops}"
#### error-question-unset-stops-function
f() { echo start; : "${1?need an argument}"; echo has-arg; }; ( f x ); echo "status $?"; ( f ); echo "status $?"
#### length
s=hello; e=; echo ${#s} ${#e} ${#undefined_var}
#### length-of-positional-count
set -- a bb ccc; echo ${#} ${#1} ${#3}
#### remove-shortest-prefix
p=a/b/c.tar.gz; echo ${p#*/}
#### remove-longest-prefix
p=a/b/c.tar.gz; echo ${p##*/}
#### remove-shortest-suffix
p=a/b/c.tar.gz; echo ${p%.*}
#### remove-longest-suffix
p=a/b/c.tar.gz; echo ${p%%.*}
#### remove-no-match-unchanged
p=hello; echo ${p#x} ${p%y} ${p##z*} ${p%%q}
#### remove-literal-prefix
v=prefix-body; echo ${v#prefix-} ${v%-body}
#### remove-bracket-pattern
v=abc123; echo ${v%%[0-9]*} ${v##*[a-z]}
#### remove-question-pattern
v=abcdef; echo ${v#??} ${v%???}
#### remove-with-quoted-pattern
v='a*b*c'; echo "${v#"a*"}" "${v#a*}"
#### remove-pattern-from-variable
v=foo.bar.baz; s=.baz; echo ${v%$s}
#### dirname-basename-idiom
f=src/util/mod.rs; echo "${f%/*}" "${f##*/}" "${f##*.}"
#### replace-first
v=aXbXc; echo ${v/X/-}
#### replace-all
v=aXbXc; echo ${v//X/-}
#### replace-with-empty
v=aXbXc; echo ${v//X} ${v/X/}
#### replace-glob-pattern
v=hello.world; echo ${v/l*o/_} ${v//[lo]/.}
#### replace-anchored-start-end
v=abcabc; echo ${v/#abc/X} ${v/%abc/Y} ${v/#bc/Z}
#### replace-no-match
v=abc; echo ${v/zz/yy}
#### replace-with-slash-in-replacement
p=a.b.c; echo ${p//./\/}
#### replace-spaces
v='a b  c'; echo "${v// /_}"
#### substring-offset
v=0123456789; echo ${v:3} ${v:3:4} ${v:0:1}
#### substring-negative-offset
v=0123456789; echo ${v: -3} ${v: -4:2} ${v:(-2)}
#### substring-past-end
v=abc; echo "[${v:5}] [${v:1:10}]"
#### substring-negative-length
v=0123456789; echo ${v:2:-3}
#### substring-arithmetic
v=abcdef; n=2; echo ${v:n:n+1} ${v:$n}
#### substring-of-positional
set -- a b c d e; echo ${@:2:3}; echo ${@:4}
#### nested-default
unset a b; c=deep; echo ${a:-${b:-$c}}
#### default-with-spaces-quoted
unset u; printf '<%s>\n' "${u:-a  b}" ${u:-c  d}
#### default-with-command-substitution
unset u; echo ${u:-$(echo computed)}
#### default-not-evaluated-when-set
s=1; x=${s:-$(echo side >&2; echo no)}; echo $x
#### assign-default-in-colon-command
unset cfg; : ${cfg:=default.conf}; echo "$cfg"
#### length-of-number-and-spaces
n=-120; s='a b '; echo ${#n} ${#s}
#### uppercase-lowercase
v=Hello; echo ${v^^} ${v,,} ${v^}
#### star-and-at-length
set -- one two three; echo ${#@} ${#*}
#### braces-needed-for-suffix
v=file; echo "${v}_1" "$v_1" end
#### positional-beyond-nine
set -- 1 2 3 4 5 6 7 8 9 ten eleven; echo $10 ${10} ${11}
#### unset-vs-empty-with-plus
v=; echo "${v+set}${v:+nonempty}"; unset v; echo "[${v+set}]"
#### special-param-question
false; echo $?; echo $?
#### special-param-hash
set -- a "b c"; echo $#
#### prefix-removal-on-all-args
set -- x.rs y.rs z.txt; echo "${@%.rs}"
#### replace-on-all-args
set -- aa ba ca; printf '<%s>\n' "${@/a/X}"
#### expansion-result-not-reexpanded
v='$HOME'; echo "$v" $v
#### indirection-result-is-glob
v='*.md'; echo ${v} "${v}"
#### pattern-with-star-in-middle
v=/usr/local/bin/tool; echo ${v#/*/} ${v%/*/*}
