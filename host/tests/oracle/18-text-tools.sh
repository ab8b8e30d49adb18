# Text tools over the fixture files: grep, head, tail, wc, sort, uniq, find, cut, tr,
# basename, dirname, seq, sed, xargs, tee, diff. find output is always piped through sort.
#### grep-basic
grep apple notes.txt
#### grep-i
grep -i apple notes.txt
#### grep-v
grep -v a notes.txt
#### grep-c
grep -c banana notes.txt; grep -ci APPLE notes.txt
#### grep-n
grep -n an notes.txt
#### grep-l-files
grep -l fn src/main.rs src/lib.rs README.md notes.txt
#### grep-r-sorted
grep -r 'x \* 2' . | sort
#### grep-r-l-sorted
grep -rl 'pub fn' src | sort
#### grep-r-n-in-dir
grep -rn println src | sort
#### grep-e-alternation
grep -E 'cherry|date' notes.txt
#### grep-e-plus-and-anchors
grep -E '^[a-z]+a$' notes.txt
#### grep-f-fixed-string
grep -F 'x * 2' src/util/mod.rs; grep -c '*' src/main.rs; grep -Fc '*' src/main.rs
#### grep-q-status
grep -q cherry notes.txt; echo $?; grep -q kiwi notes.txt; echo $?
#### grep-w-word
printf 'app\napple\nan app here\n' | grep -w app
#### grep-no-match-status-ends-script
grep zzz notes.txt
#### grep-missing-file-status
grep apple nope.txt 2>/dev/null; echo "status $?"
#### grep-multiple-files-prefix
grep -n TODO README.md notes.txt
#### grep-from-stdin
cat data.csv | grep ',[0-9]$'
#### grep-basic-regex-dot-star
grep 'a.*e' notes.txt
#### grep-count-multiple-files
grep -c a notes.txt data.csv
#### grep-dash-e-pattern
grep -e '-' -e x data.csv README.md
#### head-tail-defaults-and-n
head -n 2 notes.txt; echo --; tail -n 2 notes.txt
#### head-default-ten
seq 1 15 | head | tr '\n' ' '; echo
#### tail-plus-n
tail -n +5 notes.txt
#### head-short-option
head -3 data.csv
#### head-more-than-file
head -n 100 data.csv | wc -l
#### head-c-bytes
head -c 5 notes.txt; echo
#### wc-lines-words-chars
wc -l < notes.txt; wc -w < README.md; wc -c < data.csv
#### wc-with-filename
wc -l notes.txt data.csv
#### wc-l-from-pipe
grep a notes.txt | wc -l
#### sort-default
sort notes.txt
#### sort-r
sort -r notes.txt
#### sort-u
sort -u notes.txt
#### sort-n
printf '%s\n' 10 9 100 1 | sort -n; printf '%s\n' 10 9 100 1 | sort
#### sort-t-k
tail -n +2 data.csv | sort -t, -k2 -n
#### sort-t-k-reverse
tail -n +2 data.csv | sort -t, -k2,2 -nr
#### sort-multiple-files
sort notes.txt data.csv | head -n 4
#### uniq-adjacent-only
uniq notes.txt
#### uniq-c-after-sort
sort notes.txt | uniq -c
#### sort-uniq-c-sort-nr
sort notes.txt | uniq -c | sort -nr | head -n 2
#### find-all-sorted
find . | sort
#### find-name
find . -name '*.rs' | sort
#### find-iname
find . -iname 'readme*' | sort
#### find-type-d
find . -type d | sort
#### find-type-f-maxdepth
find . -maxdepth 1 -type f | sort
#### find-path
find . -path '*util*' | sort
#### find-in-subdir
find src -name '*.rs' | sort
#### find-no-match
find . -name '*.py' | sort; echo "status $?"
#### find-hidden-included
find . -name '.*' | sort
#### cut-fields
cut -d, -f1 data.csv
#### cut-field-two-with-header-skipped
tail -n +2 data.csv | cut -d, -f2
#### cut-chars
cut -c1-3 notes.txt | head -n 3
#### cut-multiple-fields
printf 'a:b:c:d\n' | cut -d: -f1,3; printf 'a:b:c:d\n' | cut -d: -f2-
#### tr-upper
tr a-z A-Z < notes.txt | head -n 2
#### tr-delete
echo 'hello world' | tr -d lo
#### tr-squeeze
echo 'aaa   bbb' | tr -s ' a'
#### tr-newlines-to-commas
tr '\n' , < notes.txt; echo
#### basename-dirname
basename src/util/mod.rs; basename src/util/mod.rs .rs; dirname src/util/mod.rs; dirname notes.txt
#### basename-trailing-slash
basename src/util/; dirname src/util/
#### seq-forms
seq 3; seq 2 4; seq 0 5 20 | tr '\n' ' '; echo
#### seq-reverse
seq 5 -2 1 | tr '\n' ' '; echo
#### sed-substitute-global
sed 's/a/A/g' notes.txt | head -n 2
#### sed-substitute-first-only
echo 'aaa' | sed 's/a/b/'
#### sed-with-other-delimiter
echo 'src/util/mod.rs' | sed 's|/|::|g'
#### sed-regex-groups
sed 's/\([a-z]*\),\([0-9]*\)/\2=\1/' data.csv
#### sed-on-stdin-pipeline
grep -n pub src/lib.rs | sed 's/:/ -> /'
#### xargs-basic
printf '%s\n' a b c | xargs echo
#### xargs-with-files
printf '%s\n' src/lib.rs src/util/mod.rs | xargs grep -c fn
#### find-xargs-grep
find src -name '*.rs' | sort | xargs grep -l 'x \* 2'
#### xargs-n
seq 1 5 | xargs -n 2 echo
#### tee-to-file-and-stdout
echo teed | tee t.txt; cat t.txt
#### tee-append
echo one > t.txt; echo two | tee -a t.txt > /dev/null; cat t.txt
#### diff-identical
cp notes.txt n2.txt; diff notes.txt n2.txt; echo "status $?"
#### diff-u-different
printf 'a\nb\nc\n' > x.txt; printf 'a\nB\nc\n' > y.txt; diff -u x.txt y.txt > d.txt; echo "status $?"; head -n 2 d.txt | cut -c1-9; tail -n +3 d.txt
#### diff-status-nonzero
printf '1\n2\n' > p.txt; printf '1\n3\n' > q.txt; diff -u p.txt q.txt > /dev/null; echo "status $?"
#### diff-u-single-line-hunk
printf 'x\n' > p.txt; printf 'y\n' > q.txt; diff -u p.txt q.txt | tail -n +3
#### diff-u-added-lines
printf '1\n2\n' > p.txt; printf '1\n2\n3\n4\n' > q.txt; diff -u p.txt q.txt | tail -n +3
#### diff-last-command-status
printf 'x\n' > p.txt; printf 'y\n' > q.txt; diff -u p.txt q.txt > /dev/null
#### pipeline-word-frequency
tr 'A-Z' 'a-z' < notes.txt | sort | uniq -c | sort -k1,1nr -k2 | head -n 3
#### pipeline-csv-total
s=0; for n in $(tail -n +2 data.csv | cut -d, -f2); do s=$((s + n)); done; echo "total $s"
#### pipeline-count-rs-lines
find src -name '*.rs' | sort | xargs cat | wc -l
#### grep-into-cut-into-sort
grep -h 'fn ' src/main.rs src/lib.rs | cut -d'(' -f1 | sort
