# Pathname expansion (globbing) over the fixture tree, C locale. Bash 5.2 semantics: `.*`
# never matches `.` or `..` (globskipdots), so in an empty directory `.*` stays literal.
#### star-sorted
printf '<%s>\n' *
#### star-dot-ext
printf '<%s>\n' *.txt
#### no-match-stays-literal
printf '<%s>\n' *.nomatch
#### no-match-in-dir-stays-literal
echo src/*.py nothing/*
#### quoted-glob-not-expanded
echo "*.txt" '*.md'
#### quoted-part-of-glob
printf '<%s>\n' "*".txt
#### escaped-star
echo \*.txt
#### hidden-not-matched-by-star
for f in *; do case $f in .*) echo "dot: $f";; esac; done; echo done
#### dot-star-matches-hidden
printf '<%s>\n' .h*
#### dot-star-excludes-dot-dotdot
for f in .*; do echo "[$f]"; done
#### question-mark
printf '<%s>\n' ?????.txt ?' '?.txt ????.txt
#### question-mark-one-char
mkdir g && touch g/a g/ab g/abc && cd g && echo ?
#### bracket-range
printf '<%s>\n' [a-d]*
#### bracket-negation
mkdir g && touch g/a1 g/b1 g/c1 && cd g && echo [!a]1 && echo [^b]1
#### bracket-set
printf '<%s>\n' [CR]*
#### glob-in-subdir
printf '<%s>\n' src/*.rs
#### glob-two-levels
echo src/*/*.rs
#### glob-dir-component
echo s*/l*
#### glob-trailing-slash-dirs-only
printf '<%s>\n' */
#### glob-with-space-in-name
for f in a*; do echo "[$f]"; cat "$f"; done
#### glob-in-variable-unquoted
p='*.csv'; echo $p
#### glob-in-variable-quoted
p='*.csv'; echo "$p"
#### glob-in-assignment-not-expanded
x=*.txt; echo "$x"
#### glob-in-for-list
for f in src/*.rs notes.*; do echo "file: $f"; done
#### glob-count
set -- *; echo $#
#### glob-case-sensitive
echo [r]* c*
#### glob-uppercase-sorts-first
mkdir g && touch g/b g/B g/a g/A g/_x g/1 && cd g && echo *
#### glob-after-touch
mkdir g && cd g && touch z.log a.log m.log && echo *.log && rm m.log && echo *.log
#### glob-matches-empty-dir
echo e*
#### glob-literal-bracket-unclosed
echo [abc
#### glob-star-middle
mkdir g && touch g/foo.tar.gz g/foo.zip g/bar.tar.gz && cd g && echo *.tar.* && echo f*z*
#### glob-in-test-not-expanded
[ "*.txt" = '*.txt' ] && echo literal
#### glob-in-echo-in-empty-dir
cd empty && echo * && echo .*
