# Here-documents and here-strings. Cases using <<- contain real tab characters.
#### basic-heredoc
cat <<EOF2
line one
line two
EOF2
#### heredoc-expands-variables
name=world; cat <<END
hello $name
sum $((2 + 3))
cmd $(echo subst)
END
#### quoted-delimiter-is-literal
name=world; cat <<'END'
hello $name
sum $((2 + 3)) `echo no`
END
#### double-quoted-delimiter-is-literal
x=1; cat <<"END"
$x \$x
END
#### partly-quoted-delimiter
x=1; cat <<E"N"D
$x
END
#### backslash-escapes-in-heredoc
x=val; cat <<END
a \$x b $x c \\ d \` e
END
#### backslash-newline-joins
cat <<END
one \
two
END
#### double-quotes-kept-in-heredoc
x=v; cat <<END
"$x" 'single' "quoted"
END
#### dash-strips-leading-tabs
cat <<-END
	tabbed
		twice
	END
#### dash-keeps-leading-spaces
cat <<-END
    spaces stay
	tab goes
END
#### heredoc-into-while-read
while read -r a b; do echo "a=$a b=$b"; done <<END
1 one
2 two words
END
#### heredoc-into-grep
grep -c x <<END
x1
y
x2
END
#### heredoc-into-function
f() { while read -r l; do echo "got: $l"; done; }; f <<END
first
second
END
#### heredoc-then-more-commands
cat <<END; echo after
body
END
#### two-heredocs-in-sequence
cat <<A
from a
A
cat <<B
from b
B
#### heredoc-with-pipe
cat <<END | sort -r
b
a
c
END
#### heredoc-to-file
cat > out.txt <<END
stored
END
cat out.txt; wc -l < out.txt
#### heredoc-empty-body
cat <<END
END
echo "[done]"
#### heredoc-delimiter-needs-whole-line
cat <<END
not END here
 END
END
#### heredoc-in-function-body
f() {
  cat <<END
in function $1
END
}
f arg
#### heredoc-in-loop
for i in 1 2; do cat <<END
iteration $i
END
done
#### heredoc-preserves-blank-lines
cat <<END
a

b
END
#### here-string
cat <<< "here string"
#### here-string-with-variable
v="x y  z"; read -r a b <<< "$v"; echo "[$a] [$b]"
#### here-string-adds-newline
wc -l <<< "one"
#### here-string-unquoted-not-split
v="a   b"; cat <<< $v
#### heredoc-glob-not-expanded
cat <<END
*.txt
END
#### heredoc-tilde-not-expanded
HOME=/h; cat <<END
~ ~/x
END
#### heredoc-parameter-ops
v=hello.txt; cat <<END
${v%.txt} ${#v} ${u:-def}
END
#### heredoc-dash-with-quoted-delimiter
cat <<-'END'
	$HOME stays
	END
