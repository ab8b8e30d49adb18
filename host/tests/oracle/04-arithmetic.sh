# Arithmetic expansion $((...)) and the (( )) command; 64-bit signed integers.
#### precedence
echo $((2 + 3 * 4)) $(((2 + 3) * 4)) $((10 - 2 - 3))
#### division-truncates
echo $((7 / 2)) $((-7 / 2)) $((7 / -2))
#### modulo-sign
echo $((7 % 3)) $((-7 % 3)) $((7 % -3))
#### exponent
echo $((2 ** 10)) $((3 ** 0)) $((2 ** 3 ** 2))
#### unary-minus-and-plus
echo $((-5 + 2)) $((- -3)) $((+4)) $((-(2+3)))
#### negative-variable
n=-4; echo $((n * 2)) $(($n - 1))
#### comparisons
echo $((3 < 5)) $((3 > 5)) $((4 <= 4)) $((4 >= 5)) $((2 == 2)) $((2 != 2))
#### logical-ops
echo $((1 && 0)) $((1 || 0)) $((!0)) $((!5)) $((0 || 0))
#### bitwise-ops
echo $((6 & 3)) $((6 | 3)) $((6 ^ 3)) $((~0)) $((1 << 4)) $((256 >> 2))
#### ternary
a=5; echo $((a > 3 ? 10 : 20)) $((a < 3 ? 10 : 20))
#### nested-ternary
x=0; echo $((x ? 1 : x == 0 ? 2 : 3))
#### variables-without-dollar
a=3 b=4; echo $((a * a + b * b))
#### unset-variable-is-zero
unset z; echo $((z + 1)) "[$z]"
#### empty-variable-is-zero
e=; echo $((e + 7))
#### assignment-in-expansion
x=1; echo $((x = 5)) $x
#### plus-equals
x=10; ((x += 5)); echo $x; ((x -= 3)); echo $x; ((x *= 2)); echo $x; ((x /= 4)); echo $x; ((x %= 4)); echo $x
#### pre-post-increment
i=5; echo $((i++)) $i $((++i)) $i $((i--)) $i $((--i)) $i
#### increment-statement
i=0; ((i++)); ((i++)); echo $i
#### double-paren-status-true
((3 > 2)); echo $?
#### double-paren-status-false
((2 > 3)); echo $?
#### double-paren-zero-is-false
((0)); echo $?; ((1)); echo $?; ((-1)); echo $?
#### post-increment-from-zero-status
i=0; ((i++)); echo "status $? i=$i"
#### double-paren-in-if
n=7; if ((n % 2 == 1)); then echo odd; else echo even; fi
#### double-paren-in-while
i=0; while ((i < 3)); do echo "i=$i"; ((i++)); done
#### comma-operator
echo $((a = 1, b = 2, a + b))
#### hex-octal-literals
echo $((0x1f)) $((010)) $((0xFF + 1)) $((2#101)) $((16#ff))
#### string-var-holding-expression
e='2 + 3'; echo $(($e * 2)) $((e * 2))
#### var-holding-var-name
a=b; b=7; echo $((a + 1))
#### spaces-and-nesting
echo $(( ( 1 + 2 ) * ( 3 + 4 ) )) $(( $((2*3)) + 1 ))
#### large-numbers
echo $((2 ** 40)) $((9223372036854775807)) $((1000000 * 1000000))
#### overflow-wraps
echo $((9223372036854775807 + 1))
#### division-by-zero-fails
echo $((1 / 0)); echo "not reached"
#### division-by-zero-in-double-paren-status
x=0; ( ((5 / x)) ); echo "status $?"
#### arithmetic-in-string
n=3; echo "total: $((n * 100))%"
#### compare-precedence-with-logic
echo $((1 + 1 == 2 && 3 > 2)) $((1 | 2 == 2))
#### assign-ops-in-expansion
x=3; echo $((x <<= 2)) $((x |= 1)) $((x &= 5)) $((x ^= 1))
#### double-paren-assign-from-command-subst
n=$(grep -c a notes.txt); ((n *= 10)); echo $n
#### arith-for-loop-sum
s=0; for ((i = 1; i <= 10; i++)); do ((s += i)); done; echo $s
#### dollar-in-arith-with-positional
set -- 4 6; echo $(($1 * $2)) $(( $# + 1 ))
#### leading-zero-string-is-octal
x=010; echo $((x + 0))
#### invalid-number-fails
x=08; echo $((x + 1)); echo "not reached"
