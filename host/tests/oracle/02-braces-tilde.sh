# Brace expansion and tilde expansion. HOME is /home/dev unless a case sets it.
#### brace-list
echo a{b,c,d}e
#### brace-numeric-range
echo {1..5}
#### brace-reverse-range
echo {5..1}
#### brace-letter-range
echo {a..e}
#### brace-step
echo {0..10..3}
#### brace-negative-range
echo {-2..2}
#### brace-zero-padded
echo {08..11}
#### brace-nested
echo x{a,b{1,2},c}y
#### brace-two-products
echo {a,b}{1,2}
#### brace-single-item-literal
echo {a} {} a{b}c
#### brace-quoted-not-expanded
echo "{a,b}" '{1..3}' \{x,y\}
#### brace-empty-member
printf '<%s>\n' a{,b,c}
#### brace-for-loop
for i in {1..3}; do printf '%s;' "$i"; done; echo
#### brace-with-variable-not-range
n=3; echo {1..$n}
#### brace-before-glob
printf '<%s>\n' src/{main,lib}.rs
#### brace-mkdir-paths
mkdir -p t/{a,b}/c && cd t && echo */c
#### brace-prefix-suffix-words
echo pre-{x,y}-post end
#### brace-in-assignment-not-expanded
v={a,b}; echo "$v"
#### tilde-alone
HOME=/h; echo ~
#### tilde-slash
HOME=/h; echo ~/x ~/a/b
#### tilde-quoted-literal
HOME=/h; echo "~" '~/x' \~
#### tilde-middle-of-word-literal
HOME=/h; echo a~ x~/y
#### tilde-in-assignment
HOME=/h; v=~/bin; echo "$v"
#### tilde-after-colon-in-assignment
HOME=/h; p=/usr:~/bin; echo "$p"
#### tilde-default-home
echo ~
#### tilde-in-double-quoted-var
HOME=/h; v="~/x"; echo $v
#### brace-and-tilde
HOME=/h; echo ~/{a,b}
