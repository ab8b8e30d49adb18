# Loops (for, while, until, C-style for), break/continue with levels, exit statuses.
#### for-list
for x in a b c; do echo "x=$x"; done
#### for-brace-range
for i in {1..5}; do printf '%s ' $i; done; echo
#### for-c-style
for ((i = 0; i < 3; i++)); do echo "i=$i"; done
#### for-c-style-step-and-two-vars
for ((i = 0, j = 10; i < j; i += 3, j -= 3)); do echo "$i $j"; done
#### for-c-style-empty-parts
i=0; for ((;;)); do ((i++)); [ $i -ge 3 ] && break; done; echo $i
#### for-var-persists-after-loop
for x in a b last; do :; done; echo "$x"
#### for-empty-list-no-iterations
for x in; do echo never; done; echo "status $?"
#### for-glob-list
for f in src/*.rs; do echo "$f"; done
#### for-with-newline-list
for x in one \
  two; do
  echo "$x"
done
#### while-counter
i=3; while [ $i -gt 0 ]; do echo $i; i=$((i - 1)); done; echo liftoff
#### until-loop
i=0; until [ $i -ge 3 ]; do echo "i=$i"; i=$((i + 1)); done
#### while-false-status
while false; do :; done; echo "status $?"
#### loop-status-is-last-body-command
for x in 1 2; do false; done; echo "status $?"
#### break-simple
for i in 1 2 3 4 5; do [ $i -eq 3 ] && break; echo $i; done; echo "after"
#### continue-simple
for i in 1 2 3 4 5; do [ $((i % 2)) -eq 0 ] && continue; echo $i; done
#### break-two-levels
for a in 1 2 3; do for b in x y z; do [ $b = y ] && [ $a = 2 ] && break 2; echo "$a$b"; done; done; echo done
#### continue-two-levels
for a in 1 2 3; do for b in x y z; do [ $b = y ] && continue 2; echo "$a$b"; done; echo never; done
#### break-in-while-true
n=0; while true; do n=$((n + 1)); if [ $n -eq 4 ]; then break; fi; done; echo "n=$n"
#### break-in-until
i=0; until false; do i=$((i + 1)); [ $i -gt 2 ] && break; done; echo $i
#### continue-in-while-skips-rest
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); [ $i -eq 3 ] && continue; printf '%s,' $i; done; echo
#### nested-while-for
i=0; while [ $i -lt 2 ]; do for c in a b; do echo "$i$c"; done; i=$((i + 1)); done
#### loop-output-piped
for i in 3 1 2; do echo $i; done | sort -n | tr '\n' ' '; echo
#### loop-output-redirected
for i in 1 2 3; do echo "line $i"; done > out.txt; cat out.txt
#### loop-input-redirected
while read -r l; do case $l in a*) echo "a-word: $l";; esac; done < notes.txt
#### return-from-loop-in-function
f() { for i in 1 2 3; do [ $i = 2 ] && return 7; echo "f $i"; done; }; f; echo "status $?"
#### exit-inside-loop
for i in 1 2 3; do echo $i; [ $i = 2 ] && exit 5; done; echo not-reached
#### and-or-chain
true && echo a && false && echo b || echo c
#### or-chain-status
false || false || true; echo $?; false || false; echo $?
#### bang-negation
! false; echo $?; ! true; echo $?; ! grep -q zzz notes.txt && echo no-zzz
#### if-with-command-condition
if grep -q banana notes.txt; then echo has-banana; fi; if grep -q kiwi notes.txt; then echo has-kiwi; else echo no-kiwi; fi
#### exit-status-of-if-no-else
if false; then echo; fi; echo $?; if true; then false; fi; echo $?
#### exit-explicit-status
echo before; exit 9; echo after
#### exit-without-arg-uses-last
false; exit
#### colon-true-false
:; echo $?; true; echo $?; false; echo $?
#### while-read-with-break
while read -r l; do [ "$l" = cherry ] && break; echo "$l"; done < notes.txt
#### loop-over-lines-of-command
for w in $(grep a notes.txt | sort -u); do printf '[%s]' "$w"; done; echo
#### seq-in-for
for i in $(seq 2 2 8); do printf '%s;' "$i"; done; echo
#### deep-nesting
for a in 1 2; do if [ $a = 1 ]; then while :; do case $a in 1) echo "one"; break;; esac; done; else echo other; fi; done
#### break-too-many-levels
for i in 1 2; do for j in a b; do break 5; done; echo inner-after; done; echo "out $i"
#### c-style-for-status-is-last-body-command
for ((i = 0; i < 2; i++)); do false; done; echo "status $?"
