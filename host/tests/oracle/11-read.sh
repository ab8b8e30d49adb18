# The read builtin: fields, -r, IFS, sources (pipe, heredoc, redirect), EOF status.
#### read-one-var-whole-line
read -r line < notes.txt; echo "[$line]"
#### read-several-vars
read -r a b c <<< "one two three four five"; echo "[$a] [$b] [$c]"
#### read-fewer-words-than-vars
read -r a b c <<< "only"; echo "[$a] [$b] [$c]"
#### read-trims-leading-trailing-whitespace
read -r a <<< "   padded   "; echo "[$a]"
#### read-keeps-inner-whitespace-in-last-var
read -r a b <<< "  x   y   z  "; echo "[$a] [$b]"
#### read-backslash-without-r
read a <<< 'a\tb\\c\ d'; echo "[$a]"
#### read-backslash-with-r
read -r a <<< 'a\tb\\c\ d'; echo "[$a]"
#### read-line-continuation-without-r
printf 'one \\\ntwo\nthree\n' | { read a; echo "[$a]"; }
#### read-custom-ifs
IFS=, read -r a b c <<< "x,y,z"; echo "[$a] [$b] [$c]"
#### read-ifs-only-for-read
IFS=: read -r a b <<< "k:v"; v="p q"; set -- $v; echo "[$a] [$b] $#"
#### read-ifs-empty-fields
IFS=, read -r a b c <<< "x,,z"; echo "[$a] [$b] [$c]"
#### read-ifs-empty-keeps-whitespace
IFS= read -r a <<< "  both ends  "; echo "[$a]"
#### read-ifs-colon-last-field-rest
IFS=: read -r user rest <<< "root:x:0:0:root"; echo "$user | $rest"
#### read-at-eof-returns-1
read -r a < /dev/null; echo "status $? [$a]"
#### read-empty-file
: > empty.txt; read -r a < empty.txt; echo "status $?"
#### read-last-line-without-newline
printf 'one\ntwo' | { while read -r l; do echo "got $l"; done; echo "leftover [$l]"; }
#### read-last-line-without-newline-idiom
printf 'one\ntwo' | while read -r l || [ -n "$l" ]; do echo "got $l"; done
#### read-partial-line-status
printf 'partial' | { read -r x; echo "status $? [$x]"; }
#### while-read-file
while read -r l; do echo "> $l"; done < notes.txt | head -n 3
#### while-read-csv
while IFS=, read -r name qty; do echo "$name=$qty"; done < data.csv
#### while-read-count-lines
n=0; while read -r _; do n=$((n + 1)); done < notes.txt; echo $n
#### read-from-pipe-in-group
echo "a b" | { read -r x y; echo "$y $x"; }
#### read-from-pipe-does-not-set-outer
x=old; echo new | read -r x; echo "$x"
#### read-successive-lines-from-group
{ read -r l1; read -r l2; read -r l3; } < data.csv; echo "$l1 / $l2 / $l3"
#### read-no-var-uses-reply
read -r <<< "  into reply  "; echo "[$REPLY]"
#### read-into-same-var-twice
read -r a a <<< "first second"; echo "[$a]"
#### read-tab-separated
printf 'a\tb c\n' | { IFS='	' read -r x y; echo "[$x] [$y]"; }
#### read-blank-lines
printf 'x\n\ny\n' | while read -r l; do echo "[$l]"; done
#### read-heredoc-multiple-fields
while read -r k v; do echo "$k -> $v"; done <<END
alpha 1
beta  2 extra
gamma
END
#### read-var-in-function-is-global
f() { read -r got; }; f <<< "value"; echo "[$got]"
#### read-with-local-var
f() { local got; read -r got; echo "in [$got]"; }; f <<< "value"; echo "out [${got-unset}]"
#### read-glob-chars-not-expanded
read -r a b <<< "* ?"; echo "[$a] [$b]"
#### read-ifs-whitespace-and-comma
IFS=' ,' read -r a b c <<< "x , y,z"; echo "[$a] [$b] [$c]"
