# Pipelines and redirections: > >> < 2>&1 2>/dev/null, order of redirections, statuses.
#### redirect-truncate
echo first > f.txt; echo second > f.txt; cat f.txt
#### redirect-append
echo first > f.txt; echo second >> f.txt; cat f.txt
#### redirect-input
tr a-z A-Z < notes.txt | head -n 2
#### redirect-creates-empty-file
: > new.txt; [ -f new.txt ] && [ ! -s new.txt ] && echo empty-created
#### redirect-bare-creates-file
> bare.txt; [ -f bare.txt ] && echo bare-created
#### stderr-to-devnull
cat missing.txt 2>/dev/null; echo "status $?"
#### stderr-to-stdout
{ echo out; echo err >&2; } 2>&1 | sort
#### stderr-to-file
{ echo out; echo err >&2; } 2> err.txt; echo "--"; cat err.txt
#### stdout-to-stderr-hidden
{ echo visible; echo hidden >&2; } 2>/dev/null; echo shown 1>&2 2>/dev/null; echo end
#### redirect-order-matters
{ echo e >&2; } 2>&1 > /dev/null; echo "--"; { echo e2 >&2; } > /dev/null 2>&1; echo end
#### both-to-file
{ echo out; echo err >&2; } > all.txt 2>&1; sort all.txt
#### ampersand-greater-both
{ echo out; echo err >&2; } &> both.txt; sort both.txt
#### redirect-in-middle-of-command
echo a > f.txt b c; cat f.txt
#### redirect-before-command
> f.txt echo front; cat f.txt
#### redirect-to-filename-with-space
echo spaced > "x y.txt"; cat "x y.txt"; cat x\ y.txt
#### redirect-target-from-variable
n=out; echo via-var > "$n.log"; cat out.log
#### input-from-missing-file-status
cat < nope.txt 2>/dev/null; echo "status $?"; echo after
#### redirect-to-directory-fails
echo x > src 2>/dev/null; echo "status $?"
#### pipeline-basic
cat notes.txt | sort | uniq | head -n 3
#### pipeline-status-is-last
false | true; echo $?; true | false; echo $?
#### pipeline-negated
! false | false; echo $?
#### pipeline-with-grep-no-match-status
grep zzz notes.txt | wc -l; echo $?
#### pipeline-three-stages
printf '%s\n' 5 3 9 1 | sort -n | tail -n 2
#### pipeline-into-while
grep -n a notes.txt | while IFS=: read -r n w; do echo "$w@$n"; done
#### pipeline-stderr-not-piped
{ echo out; echo err >&2; } 2>/dev/null | tr a-z A-Z
#### pipe-stderr-with-2-and-1
{ echo out; echo err >&2; } 2>&1 | wc -l
#### and-or-with-redirect
grep -q apple notes.txt && echo found > r.txt; cat r.txt
#### append-in-loop
for i in 1 2 3; do echo "$i" >> acc.txt; done; cat acc.txt | tr '\n' +; echo
#### redirect-to-dev-null-stdout
echo gone > /dev/null; echo kept
#### cat-multiple-files
cat data.csv "a b.txt" | tail -n 2
#### cat-dash-reads-stdin
echo from-stdin | cat - "a b.txt"
#### cp-mv-rm-then-check
cp notes.txt n2.txt && mv n2.txt n3.txt && [ ! -e n2.txt ] && head -n 1 n3.txt && rm n3.txt && [ ! -e n3.txt ] && echo removed
#### mkdir-and-write-nested
mkdir -p a/b && echo deep > a/b/c.txt && cat a/b/c.txt
#### rm-missing-status
rm nothere.txt 2>/dev/null; echo "status $?"; rm -f nothere.txt; echo "status $?"
#### rm-r-directory
mkdir -p d/e && touch d/e/f && rm -r d && [ ! -e d ] && echo gone
#### cd-and-relative-redirect
cd src && echo here > note.txt && cd .. && cat src/note.txt
#### cd-missing-status
cd nowhere 2>/dev/null; echo "status $?"; cat notes.txt | head -n 1
#### cd-dotdot-and-back
cd src/util && cat ../lib.rs | head -n 1 && cd ../.. && [ -f notes.txt ] && echo back-at-top
#### cd-dash-returns
cd src && cd .. && cd - > /dev/null && [ -f lib.rs ] && echo in-src
#### cd-then-glob-is-relative
cd src && printf '<%s>\n' *.rs */*
#### heredoc-and-redirect-out
cat <<END > h.txt
heredoc line
END
cat h.txt
#### touch-existing-keeps-content
touch notes.txt; head -n 1 notes.txt
#### write-then-read-same-pipeline-file
echo 'b
a' > s.txt; sort s.txt > s2.txt; cat s2.txt
#### exit-status-of-redirect-failure-in-chain
cat missing 2>/dev/null && echo yes || echo no
#### fd-duplicate-to-stderr-and-back
{ echo msg >&2; } 2>&1 | tr a-z A-Z
