# Quoting (single, double, backslash) and word splitting of expansions.
#### single-quotes-literal
v=x; echo '$v $(echo no) `no` \n "dq"'
#### double-quotes-expand
v=x; echo "v=$v sub=$(echo yes) arith=$((1+1))"
#### backslash-in-double-quotes
v=x; echo "\$v \\ \" \` \a \n"
#### backslash-outside-quotes
echo \$v \\ \" \' \a b\ c
#### adjacent-quotes-concatenate
echo 'a'"b"c'd e'"f"
#### empty-quotes-are-arguments
printf '<%s>\n' '' "" a
#### unquoted-empty-var-vanishes
e=; printf '<%s>\n' $e a $e
#### quoted-empty-var-kept
e=; printf '<%s>\n' "$e" a
#### unquoted-var-splits
v='one  two   three'; printf '<%s>\n' $v
#### quoted-var-does-not-split
v='one  two   three'; printf '<%s>\n' "$v"
#### echo-collapses-unquoted-spaces
v='a    b'; echo $v; echo "$v"
#### split-on-tabs-and-newlines
v="a	b
c"; printf '<%s>\n' $v
#### leading-trailing-whitespace-dropped
v='   x   '; printf '<%s>\n' $v "$v"
#### single-quote-inside-double
echo "it's"; v="don't"; echo "$v"
#### double-quote-inside-single
echo 'say "hi"'
#### close-reopen-single-quote
echo 'it'\''s'
#### quote-chars-inside-other-quotes
echo "a'b" 'a"b'
#### unquoted-var-with-glob-expands
v='*.csv'; printf '<%s>\n' $v "$v"
#### unquoted-var-with-glob-no-match
v='*.zzz'; printf '<%s>\n' $v
#### splitting-then-glob
v='src/*.rs notes.txt'; printf '<%s>\n' $v
#### assignment-no-splitting
v='a   b'; w=$v; echo "[$w]"
#### assignment-no-glob
w=*; echo "[$w]"
#### quoted-dollar-at-in-string
set -- a b; echo "args: $@ end"
#### word-with-quoted-and-unquoted-parts
v='x y'; printf '<%s>\n' pre$v"post"
#### quoted-part-prevents-split-only-there
v='1 2'; printf '<%s>\n' "$v"$v
#### hash-comment
echo a # this is a comment
echo b#not-a-comment 'c # d'
#### hash-in-middle-of-word
v=x; echo $v#1 '#'2
#### backslash-newline-continuation
echo one \
two
#### backslash-newline-in-single-quotes-literal
echo 'a\
b'
#### semicolon-in-quotes
echo 'a;b' "c;d"; echo e\;f
#### pipe-and-amp-in-quotes
echo 'a|b' "c&&d" 'e>f'; [ -e 'e>f' ] || echo no-file-made
#### dollar-at-end-and-lone-dollar
echo $ "a$" 'b$'
#### braces-after-dollar-in-single-quotes
echo '${HOME}'
#### newline-in-double-quotes
echo "line1
line2"
#### quoted-command-substitution-multi-word
printf '<%s>\n' "$(echo a b)" $(echo c d)
#### variable-with-newline-unquoted
v="a
b"; echo $v; echo "$v"
#### quote-removal-in-assignment
v="a b"'c d'\ e; echo "[$v]"
#### escaped-quote-in-double
echo "a \"quoted\" word"
#### empty-var-in-test-needs-quotes
e=; [ -z "$e" ] && echo quoted-ok; [ -z $e ] && echo unquoted-also-true
#### ifs-splitting-only-on-expansions
IFS=:; echo a:b; v=c:d; echo $v; printf '<%s>\n' $v
#### literal-words-not-split-by-ifs
IFS=o; printf '<%s>\n' foo boo
#### quoted-tilde-and-glob-in-assignment
HOME=/h; v="~/*"; echo "$v"
#### dollar-double-quote-in-word
v=val; echo x"$v"y x'$v'y
#### backslash-before-ordinary-char-in-double-quotes
echo "\q\w\e"
