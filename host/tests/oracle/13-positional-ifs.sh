# Positional parameters, shift, "$@" vs $@ vs "$*" vs $*, and IFS.
#### set-dash-dash
set -- a b c; echo "$# [$1] [$2] [$3]"
#### set-dash-dash-empty
set -- a b; set --; echo "$# [$*]"
#### quoted-at-preserves-args
set -- "a b" "" c; printf '<%s>\n' "$@"
#### unquoted-at-splits-and-drops-empty
set -- "a b" "" c; printf '<%s>\n' $@
#### quoted-star-joins-with-space
set -- "a b" "" c; printf '<%s>\n' "$*"
#### unquoted-star-splits
set -- "a  b" c; printf '<%s>\n' $*
#### quoted-at-empty-gives-no-words
set --; printf '<%s>\n' "$@"; echo "count: $#"
#### quoted-star-empty-gives-empty-word
set --; printf '<%s>\n' "$*"
#### ifs-comma-joins-star
set -- a b c; IFS=,; echo "$*"
#### ifs-first-char-joins
set -- a b c; IFS=':-'; echo "$*"
#### ifs-empty-joins-nothing
set -- a b c; IFS=; echo "$*"
#### ifs-does-not-affect-quoted-at
set -- a b c; IFS=,; echo "$@"
#### shift-one
set -- a b c; shift; echo "$# $*"
#### shift-two
set -- a b c d; shift 2; echo "$# $*"
#### shift-too-many
set -- a b; shift 3; echo "status $? count $#"
#### shift-all
set -- a b; shift 2; echo "$# [$*]"
#### shift-in-loop
set -- x y z; while [ $# -gt 0 ]; do echo "arg $1"; shift; done
#### for-without-in-uses-args
set -- one "two three"; for a; do echo "[$a]"; done
#### for-in-quoted-at
set -- one "two three"; for a in "$@"; do echo "[$a]"; done
#### ifs-custom-splitting
v=a:b:c; IFS=:; set -- $v; echo $#; printf '<%s>\n' "$@"
#### ifs-empty-fields-non-whitespace
v=a::b:; IFS=:; printf '<%s>\n' $v
#### ifs-whitespace-collapses
v='  a   b  '; printf '<%s>\n' $v
#### ifs-mixed-whitespace-and-colon
v='a : b:c'; IFS=' :'; printf '<%s>\n' $v
#### ifs-empty-no-splitting
v='a b c'; IFS=; printf '<%s>\n' $v
#### ifs-newline-only
v='a b
c d'; IFS='
'; printf '<%s>\n' $v
#### ifs-unset-is-default
v='a	b  c'; unset IFS; printf '<%s>\n' $v
#### ifs-restored-after-subshell
v=a,b; ( IFS=,; printf '<%s>\n' $v ); printf '<%s>\n' $v
#### positional-in-function-shadow
set -- top; f() { set -- inner1 inner2; echo "f: $# $1"; }; f; echo "top: $# $1"
#### args-passed-through-at
inner() { printf '<%s>\n' "$@"; }; outer() { inner "$@"; }; outer "a b" c
#### args-passed-through-star-quoted
inner() { echo "$#"; }; outer() { inner "$*"; inner $*; inner "$@"; }; outer "a b" c
#### at-inside-word
set -- a b; printf '<%s>\n' "x$@y"
#### star-inside-word
set -- a b; printf '<%s>\n' "x$*y"
#### set-from-substitution
set -- $(echo p q r); echo "$# $2"
#### set-with-glob
set -- src/*.rs; echo "$# $1"
#### positional-unset-is-empty
set -- a; echo "[$2] [${2-unset}]"
#### hash-after-set-empty-string
set -- ""; echo $#; set -- "" ""; echo $#
