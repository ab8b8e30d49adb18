#!/usr/bin/env python3
"""Run the bash-oracle cases under real bash, to check that they are deterministic.

Each `NN-topic.sh` file in this directory holds many cases. A case starts with a line
`#### <case-name>` and runs until the next `####` line or the end of the file; lines before
the first `####` are a file comment. A case body is run as `bash -c BODY` with:

    env -i PATH=/usr/bin:/bin LC_ALL=C HOME=/home/dev bash --norc --noprofile -c BODY

in a fresh copy of the fixture tree below (FIXTURE), with stdin from /dev/null. Only stdout
and the exit status are compared; stderr is ignored. The body is the text between the header
lines with trailing blank lines dropped and one newline appended (bash does not care).

The expectations were checked against GNU bash 5.2 with GNU coreutils/grep/sed/findutils/diff;
a few cases depend on 5.2 behaviour (e.g. `.*` no longer matches `.` and `..`).

This runner runs every case twice, each time in its own fresh fixture, and reports:
  * cases whose stdout or status differ between the two runs (non-deterministic),
  * cases that take longer than 1 second,
  * duplicate or malformed case names,
and prints a count of cases per file. The real harness (Rust) runs the same cases under
bash and under devshell and compares the two.

Usage: run-in-bash.py [--show] [FILE-or-FILE:CASE ...]
  --show   print each case's stdout and status (to review the expectations)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# The fixture tree every case starts in (relative path -> contents; None = empty directory).
FIXTURE = {
    "src/main.rs": 'fn main() {\n    println!("hello");\n    helper(2);\n}\n\nfn helper(n: u32) -> u32 {\n    n * 2\n}\n',
    "src/lib.rs": "pub mod util;\n\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
    "src/util/mod.rs": "pub fn twice(x: i32) -> i32 {\n    x * 2\n}\n",
    "README.md": "# demo\n\nA demo project.\nTODO: write docs\n",
    "notes.txt": "apple\nbanana\napple\ncherry\nApple\nbanana\ndate\n",
    "data.csv": "name,qty\nx,10\ny,2\nz,33\nw,7\n",
    "a b.txt": "spaced\n",
    ".hidden": "secret\n",
    "empty": None,
    "Cargo.toml": '[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n',
}

NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def build_fixture(root):
    for rel, text in FIXTURE.items():
        path = os.path.join(root, rel)
        if text is None:
            os.makedirs(path, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)


def parse_cases(path):
    """Return [(name, body)] for one case file; raise ValueError on a malformed file."""
    cases = []
    name, lines = None, []
    with open(path, encoding="utf-8", newline="") as f:
        for lineno, line in enumerate(f.read().split("\n"), 1):
            if line.startswith("####"):
                if name is not None:
                    cases.append((name, "\n".join(lines)))
                name, lines = line[4:].strip(), []
                if not NAME_RE.match(name):
                    raise ValueError(f"{path}:{lineno}: bad case name {name!r}")
            elif name is None:
                if line and not line.startswith("#"):
                    raise ValueError(f"{path}:{lineno}: text before the first case is not a comment")
            else:
                lines.append(line)
    if name is not None:
        cases.append((name, "\n".join(lines)))
    # A body is the text between the header lines; drop the trailing blank lines.
    cases = [(n, b.rstrip("\n") + "\n") for n, b in cases]
    seen = set()
    for n, _ in cases:
        if n in seen:
            raise ValueError(f"{path}: duplicate case name {n!r}")
        seen.add(n)
    return cases


def run_case(body):
    root = tempfile.mkdtemp(prefix="oracle-")
    try:
        build_fixture(root)
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/home/dev"}
        start = time.monotonic()
        try:
            p = subprocess.run(
                ["bash", "--norc", "--noprofile", "-c", body],
                cwd=root, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10,
            )
            out, status = p.stdout, p.returncode
        except subprocess.TimeoutExpired:
            out, status = b"<timeout>", -1
        return out, status, time.monotonic() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv):
    show = "--show" in argv
    args = [a for a in argv if a != "--show"]
    files = sorted(f for f in os.listdir(HERE) if re.match(r"^\d\d-.*\.sh$", f))
    wanted = {}
    if args:
        for a in args:
            f, _, c = a.partition(":")
            f = os.path.basename(f)
            wanted.setdefault(f, set())
            if c:
                wanted[f].add(c)
        files = [f for f in files if f in wanted]
    problems, total = 0, 0
    for f in files:
        try:
            cases = parse_cases(os.path.join(HERE, f))
        except ValueError as e:
            print(f"MALFORMED {e}")
            problems += 1
            continue
        if wanted.get(f):
            cases = [c for c in cases if c[0] in wanted[f]]
        for name, body in cases:
            out1, st1, t1 = run_case(body)
            out2, st2, t2 = run_case(body)
            if (out1, st1) != (out2, st2):
                problems += 1
                print(f"NONDETERMINISTIC {f}:{name}\n  run 1 ({st1}): {out1!r}\n  run 2 ({st2}): {out2!r}")
            if max(t1, t2) > 1.0:
                problems += 1
                print(f"SLOW {f}:{name}: {max(t1, t2):.2f}s")
            if show:
                print(f"---- {f}:{name} -> status {st1}")
                sys.stdout.write(out1.decode("utf-8", "replace"))
        print(f"{f}: {len(cases)} cases")
        total += len(cases)
    print(f"total: {total} cases, {problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
