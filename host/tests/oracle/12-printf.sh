# The printf builtin: conversions, widths, flags, format reuse, missing arguments.
#### printf-s-and-d
printf '%s is %d\n' answer 42
#### printf-no-trailing-newline
printf 'no newline'; printf '|\n'
#### printf-width-right-left
printf '[%5s][%-5s][%s]\n' ab ab ab
#### printf-zero-pad
printf '[%05d][%5d][%-5d][%+d]\n' 42 42 42 42
#### printf-negative-zero-pad
printf '[%05d]\n' -42
#### printf-hex-octal
printf '%x %X %o %#x %#o\n' 255 255 8 255 8
#### printf-char
printf '[%c][%c]\n' hello x
#### printf-percent-literal
printf '100%%\n'; printf '%d%%\n' 50
#### printf-b-escapes
printf '%b\n' 'a\tb' 'line1\nline2'
#### printf-s-does-not-interpret-escapes
printf '%s\n' 'a\tb'
#### printf-format-escapes
printf 'tab[\t] backslash[\\] quote[\"] nl\n'
#### printf-repeats-format
printf '<%s>\n' a b c
#### printf-repeats-multi-field
printf '%s=%s\n' k1 v1 k2 v2 k3
#### printf-missing-args
printf '[%s][%d][%s]\n' only
#### printf-no-args-for-format
printf '[%s]\n'
#### printf-precision-string
printf '[%.3s][%-6.2s]\n' abcdef xyz
#### printf-dynamic-width
printf '[%*s][%-*s]\n' 6 right 6 left
#### printf-string-arg-to-d
printf '%d\n' 0x10 010 -7 ' 3'
#### printf-invalid-number-status
printf '%d\n' abc 2>/dev/null; echo "status $?"
#### printf-dash-v-sets-variable
printf -v out '%03d' 7; echo "[$out]"
#### printf-with-quoted-expansion
set -- "a b" c; printf '<%s>' "$@"; echo; printf '<%s>' $*; echo
#### printf-table
while IFS=, read -r n q; do printf '%-6s|%4s\n' "$n" "$q"; done < data.csv
#### printf-octal-escape
printf '\101\102\n'; printf '%b\n' '\0101'
#### printf-b-stops-at-backslash-c
printf '%b' 'shown\cnot shown'; printf '|\n'
#### printf-empty-string-arg
printf '[%s]\n' ''
#### printf-u-and-i
printf '%i %u\n' 12 34
#### printf-leading-dash-format-after-double-dash
printf -- '-%s-\n' x
#### printf-into-pipe
printf '%s\n' b c a | sort | tr '\n' ' '; echo
