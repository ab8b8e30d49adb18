//! The builtin commands: one function each, a help entry each.
//!
//! Builtins act on the workspace (`Shell::vfs`) and the shell's variables; `import`/`export`
//! are the only ones that touch the host filesystem, and only where the user points them.
//! Errors name the command, the path and the reason, and set a non-zero status.

use std::path::Path;

mod printf;

pub use self::printf::decode_escapes;
use crate::shell::{Flow, Io, Shell, Status};
use crate::textutil;
use crate::vfs::{self, Content, Node, NodeKind, Vfs};

pub type Builtin = fn(&mut Shell, &[String], &mut Io) -> Status;

/// (name, function, usage, description)
const BUILTINS: &[(&str, Builtin, &str, &str)] = &[
    ("pwd", pwd, "pwd", "Print the current workspace directory."),
    ("cd", cd, "cd [DIR]", "Change directory (default `/`; `-` for the previous one)."),
    ("ls", ls, "ls [-l] [-a] [PATH…]", "List directories or files. -l: long format; -a: include dot files."),
    ("mkdir", mkdir, "mkdir [-p] DIR…", "Create directories. -p: create parents, no error if it exists."),
    ("cat", cat, "cat [FILE…]", "Print files (or stdin when none is given)."),
    ("touch", touch, "touch FILE…", "Create empty files or update their mtime; never truncates."),
    (
        "echo",
        echo,
        "echo [-neE] [WORD…]",
        "Print words separated by spaces. -n: no trailing newline; -e: decode \\n, \\t, … escapes.",
    ),
    (
        "printf",
        printf_,
        "printf [-v NAME] FORMAT [ARG…]",
        "Formatted output as bash's: %s %b %q %c %d %i %u %o %x %X %f %e %g %% with flags, widths and \
         precisions; the format repeats for extra args. -v: assign to NAME instead.",
    ),
    ("rm", rm, "rm [-r] [-f] PATH…", "Remove files. -r: directories too; -f: ignore missing paths."),
    ("cp", cp, "cp [-r] SRC… DEST", "Copy files (-r: directories). DEST may be an existing directory."),
    ("mv", mv, "mv SRC… DEST", "Move or rename. DEST may be an existing directory."),
    ("chmod", chmod, "chmod +x|-x FILE…", "Set or clear the executable bit."),
    (
        "test",
        test,
        "test EXPR",
        "Evaluate EXPR: -e -f -d -s -x -L -n -z, = != < >, -eq -ne -lt -le -gt -ge, -nt -ot, ! -a -o ( ).",
    ),
    ("[", bracket, "[ EXPR ]", "Same as test; the last argument must be `]`."),
    ("true", |_, _, _| Ok(0), "true", "Succeed."),
    (":", |_, _, _| Ok(0), ": [ARG…]", "Succeed (the arguments are expanded, then ignored)."),
    ("false", |_, _, _| Ok(1), "false", "Fail with status 1."),
    (
        "export",
        export,
        "export NAME[=VALUE]… | export PATH HOSTDIR",
        "Export variables to tools; or write workspace PATH out to host directory HOSTDIR.",
    ),
    ("unset", unset, "unset [-f|-v] NAME…", "Remove variables (-v) or functions (-f); plain: the variable, else the function."),
    (
        "xargs",
        xargs,
        "xargs [-n N] [COMMAND [ARG…]]",
        "Run COMMAND (default echo) with the words read from stdin appended, N at a time with -n.",
    ),
    ("env", env, "env", "Print exported variables."),
    (
        "set",
        set,
        "set [-euxf] [+euxf] [-o NAME] [+o NAME] [--] [ARG…]",
        "Shell options: -e exit on a failure, -u unset variables are errors, -x trace commands, -f no \
         filename expansion, -o pipefail; + turns one off. ARGs (or -- ARGs) become $1…; no arguments \
         lists the variables.",
    ),
    ("shift", shift, "shift [N]", "Drop the first N (default 1) positional parameters."),
    ("local", local, "local NAME[=VALUE]…", "Make variables local to the running function."),
    ("return", return_, "return [N]", "Leave the function (or sourced file) with status N (default: the last)."),
    (
        "read",
        read,
        "read [-r] [-p PROMPT] [-d DELIM] [NAME…]",
        "Read a line of stdin, split on IFS, into NAMEs (the last takes the rest; default REPLY). \
         -r: backslashes are literal. Status 1 at end of input.",
    ),
    ("source", source, "source FILE [ARG…]", "Run a workspace script in this shell, with ARGs as $1…"),
    (".", source, ". FILE [ARG…]", "Same as source."),
    ("help", help, "help [NAME]", "List builtins, or show one builtin's help."),
    ("history", history, "history", "Show the command history."),
    ("exit", exit, "exit [N]", "Leave devshell with status N (default: the last status)."),
    ("quit", exit, "quit [N]", "Same as exit."),
    ("break", break_, "break [N]", "Leave the innermost (or Nth) loop."),
    ("continue", continue_, "continue [N]", "Next iteration of the innermost (or Nth) loop."),
    (
        "import",
        import,
        "import HOSTPATH [PATH]",
        "Copy a host file or tree into the workspace (skips .git and .gitignore'd files).",
    ),
    ("save", save, "save", "Write the workspace to the state file now."),
    (
        "backend",
        backend,
        "backend [start|restart]",
        "Show the execution backend and its session; start one now; or drop a failed one.",
    ),
];

pub fn find(name: &str) -> Option<Builtin> {
    BUILTINS.iter().find(|b| b.0 == name).map(|b| b.1)
}

/// The builtins and the text tools.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|b| b.0).chain(textutil::TOOLS.iter().map(|t| t.0))
}

/// Run the text tool `name` (`grep`, `sort`, …, see [`textutil`]) over the workspace; `None`
/// when there is no such tool.
pub fn text_tool(shell: &mut Shell, name: &str, args: &[String], io: &mut Io) -> Option<Status> {
    if !textutil::TOOLS.iter().any(|t| t.0 == name) {
        return None;
    }
    let stdin = io.take_stdin();
    let cwd = shell.cwd.clone();
    let output = textutil::run(name, args, &stdin, &cwd, &mut shell.vfs)?;
    io.out(output.stdout);
    io.err(output.stderr);
    Some(Ok(output.status))
}

/// The workspace as the text tools see it.
impl textutil::Workspace for Vfs {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        Vfs::read(self, path).map_err(|e| e.to_string())
    }
    fn is_dir(&self, path: &str) -> bool {
        Vfs::is_dir(self, path)
    }
    fn exists(&self, path: &str) -> bool {
        Vfs::exists(self, path)
    }
    fn list(&self, path: &str) -> Result<Vec<String>, String> {
        Ok(Vfs::list(self, path).map_err(|e| e.to_string())?.into_iter().map(|(name, _)| name).collect())
    }
    fn write(&mut self, path: &str, data: &[u8], append: bool) -> Result<(), String> {
        let written = if append { Vfs::append(self, path, data) } else { Vfs::write(self, path, data.to_vec()) };
        written.map_err(|e| e.to_string())
    }
}

/// Split leading `-x` flags (combined like `-rf`) from operands; `--` ends flags.
fn flags<'a>(name: &str, args: &'a [String], allowed: &str, io: &mut Io) -> Option<(String, Vec<&'a String>)> {
    let mut set = String::new();
    let mut rest = Vec::new();
    let mut done = false;
    for arg in args {
        if !done && arg == "--" {
            done = true;
        } else if !done && arg.len() > 1 && arg.starts_with('-') && rest.is_empty() {
            for c in arg[1..].chars() {
                if !allowed.contains(c) {
                    io.error(name, format!("unknown option -{c} (usage: {})", usage(name)));
                    return None;
                }
                set.push(c);
            }
        } else {
            rest.push(arg);
        }
    }
    Some((set, rest))
}

fn usage(name: &str) -> &'static str {
    BUILTINS.iter().find(|b| b.0 == name).map(|b| b.2).unwrap_or("")
}

fn path_of(shell: &Shell, arg: &str) -> String {
    vfs::resolve(&shell.cwd, arg)
}

fn pwd(shell: &mut Shell, _: &[String], io: &mut Io) -> Status {
    io.out(format!("{}\n", shell.cwd));
    Ok(0)
}

fn cd(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let back = args.first().is_some_and(|a| a == "-");
    let target = match args.first().map(String::as_str) {
        None => "/".to_string(),
        Some("-") => shell.var("OLDPWD").unwrap_or("/").to_string(),
        Some(dir) => path_of(shell, dir),
    };
    if back {
        io.out(format!("{target}\n"));
    }
    let real = shell.vfs.follow(&target).unwrap_or(target.clone());
    if !shell.vfs.exists(&real) {
        io.error("cd", format!("{target}: No such file or directory"));
        return Ok(1);
    }
    if !shell.vfs.is_dir(&real) {
        io.error("cd", format!("{target}: Not a directory"));
        return Ok(1);
    }
    let old = std::mem::replace(&mut shell.cwd, target);
    shell.set_var("OLDPWD", old);
    let cwd = shell.cwd.clone();
    shell.set_var("PWD", cwd);
    Ok(0)
}

fn long_line(name: &str, node: &Node) -> String {
    let (kind, mode) = match &node.kind {
        NodeKind::Dir => ('d', "rwxr-xr-x"),
        NodeKind::File { executable: true, .. } => ('-', "rwxr-xr-x"),
        NodeKind::File { .. } => ('-', "rw-r--r--"),
        NodeKind::Symlink { .. } => ('l', "rwxrwxrwx"),
    };
    let secs = (node.mtime_ns / 1_000_000_000) as i64;
    let when = format_time(secs);
    let suffix = match &node.kind {
        NodeKind::Symlink { target } => format!(" -> {target}"),
        _ => String::new(),
    };
    format!("{kind}{mode} {:>10} {when} {name}{suffix}\n", Vfs::size(node))
}

/// `YYYY-MM-DD HH:MM` in UTC, without a date library.
fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", rem / 3600, rem % 3600 / 60)
}

fn ls(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let Some((opts, operands)) = flags("ls", args, "la1", io) else { return Ok(2) };
    let (long, all) = (opts.contains('l'), opts.contains('a'));
    let targets: Vec<String> =
        if operands.is_empty() { vec![".".into()] } else { operands.iter().map(|s| s.to_string()).collect() };
    let mut status = 0;
    let many = targets.len() > 1;
    for (index, target) in targets.iter().enumerate() {
        let path = path_of(shell, target);
        let Some(node) = shell.vfs.get(&path) else {
            io.error("ls", format!("{target}: No such file or directory"));
            status = 1;
            continue;
        };
        let dir = if matches!(node.kind, NodeKind::Symlink { .. }) {
            shell.vfs.follow(&path).unwrap_or(path.clone())
        } else {
            path.clone()
        };
        if !shell.vfs.is_dir(&dir) {
            io.out(if long { long_line(target, node) } else { format!("{target}\n") });
            continue;
        }
        if many {
            io.out(format!("{}{target}:\n", if index > 0 { "\n" } else { "" }));
        }
        let entries = shell.vfs.list(&dir).expect("checked to be a directory");
        for (name, node) in entries {
            if !all && name.starts_with('.') {
                continue;
            }
            io.out(if long { long_line(&name, node) } else { format!("{name}\n") });
        }
    }
    Ok(status)
}

fn mkdir(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let Some((opts, operands)) = flags("mkdir", args, "p", io) else { return Ok(2) };
    if operands.is_empty() {
        io.error("mkdir", format!("missing operand (usage: {})", usage("mkdir")));
        return Ok(2);
    }
    let mut status = 0;
    for operand in operands {
        let path = path_of(shell, operand);
        let result = if opts.contains('p') { shell.vfs.mkdir_p(&path) } else { shell.vfs.mkdir(&path) };
        if let Err(e) = result {
            io.error("mkdir", e);
            status = 1;
        }
    }
    Ok(status)
}

fn cat(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    if args.is_empty() {
        io.stdin_to_out();
        return Ok(0);
    }
    let mut status = 0;
    for arg in args {
        if arg == "-" {
            io.stdin_to_out();
            continue;
        }
        match shell.vfs.read(&path_of(shell, arg)) {
            Ok(bytes) => io.out(bytes),
            Err(e) => {
                io.error("cat", e);
                status = 1;
            }
        }
    }
    Ok(status)
}

fn touch(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    if args.is_empty() {
        io.error("touch", "missing file operand");
        return Ok(2);
    }
    let mut status = 0;
    for arg in args {
        if let Err(e) = shell.vfs.touch(&path_of(shell, arg)) {
            io.error("touch", e);
            status = 1;
        }
    }
    Ok(status)
}

fn echo(_: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let mut newline = true;
    let mut escapes = false;
    let mut words = args;
    // bash: leading words made only of n, e and E are options.
    while let Some(first) = words.first() {
        let Some(letters) = first.strip_prefix('-') else { break };
        if letters.is_empty() || !letters.chars().all(|c| "neE".contains(c)) {
            break;
        }
        for c in letters.chars() {
            match c {
                'n' => newline = false,
                'e' => escapes = true,
                _ => escapes = false,
            }
        }
        words = &words[1..];
    }
    let mut text = words.join(" ");
    if escapes {
        let (decoded, stop) = decode_escapes(&text, false);
        text = decoded;
        if stop {
            newline = false;
        }
    }
    if newline {
        text.push('\n');
    }
    io.out(text);
    Ok(0)
}

fn printf_(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let (target, args) = match args {
        [flag, name, rest @ ..] if flag == "-v" => (Some(name), rest),
        rest => (None, rest),
    };
    let args = args.strip_prefix(&["--".to_string()][..]).unwrap_or(args);
    let Some((format, values)) = args.split_first() else {
        io.error("printf", format!("missing format (usage: {})", usage("printf")));
        return Ok(2);
    };
    let formatted = printf::format(format, values);
    for error in &formatted.errors {
        io.error("printf", error);
    }
    match target {
        Some(name) if crate::shell::syntax::is_name(name) => shell.set_var(name, formatted.text),
        Some(name) => {
            io.error("printf", format!("{name}: not a valid variable name"));
            return Ok(2);
        }
        None => io.out(formatted.text),
    }
    Ok(i32::from(!formatted.errors.is_empty()))
}

fn rm(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let Some((opts, operands)) = flags("rm", args, "rfR", io) else { return Ok(2) };
    let (recursive, force) = (opts.contains('r') || opts.contains('R'), opts.contains('f'));
    if operands.is_empty() && !force {
        io.error("rm", format!("missing operand (usage: {})", usage("rm")));
        return Ok(2);
    }
    let mut status = 0;
    for operand in operands {
        let path = path_of(shell, operand);
        if shell.vfs.is_dir(&path) && !recursive {
            io.error("rm", format!("{operand}: Is a directory (use rm -r)"));
            status = 1;
            continue;
        }
        match shell.vfs.remove(&path, recursive) {
            Ok(()) => {}
            Err(vfs::VfsError::NotFound(_)) if force => {}
            Err(e) => {
                io.error("rm", e);
                status = 1;
            }
        }
    }
    Ok(status)
}

/// Resolve `SRC… DEST` for cp/mv: each source with its final destination path.
fn copy_pairs(shell: &Shell, name: &str, operands: &[&String], io: &mut Io) -> Option<Vec<(String, String)>> {
    if operands.len() < 2 {
        io.error(name, format!("missing destination (usage: {})", usage(name)));
        return None;
    }
    let (sources, dest) = operands.split_at(operands.len() - 1);
    let dest = path_of(shell, dest[0]);
    let into_dir = shell.vfs.is_dir(&dest);
    if sources.len() > 1 && !into_dir {
        io.error(name, format!("{dest}: target is not a directory"));
        return None;
    }
    Some(
        sources
            .iter()
            .map(|s| {
                let from = path_of(shell, s);
                let to = if into_dir { vfs::resolve(&dest, vfs::file_name(&from)) } else { dest.clone() };
                (from, to)
            })
            .collect(),
    )
}

fn cp(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let Some((opts, operands)) = flags("cp", args, "rR", io) else { return Ok(2) };
    let Some(pairs) = copy_pairs(shell, "cp", &operands, io) else { return Ok(2) };
    let mut status = 0;
    for (from, to) in pairs {
        if let Err(e) = shell.vfs.copy(&from, &to, !opts.is_empty()) {
            let hint = if matches!(e, vfs::VfsError::IsADirectory(ref p) if *p == from) { " (use cp -r)" } else { "" };
            io.error("cp", format!("{e}{hint}"));
            status = 1;
        }
    }
    Ok(status)
}

fn mv(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let Some((_, operands)) = flags("mv", args, "", io) else { return Ok(2) };
    let Some(pairs) = copy_pairs(shell, "mv", &operands, io) else { return Ok(2) };
    let mut status = 0;
    for (from, to) in pairs {
        if let Err(e) = shell.vfs.rename(&from, &to) {
            io.error("mv", e);
            status = 1;
        }
    }
    Ok(status)
}

fn chmod(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let (mode, files) = match args.split_first() {
        Some((mode, files)) if (mode == "+x" || mode == "-x") && !files.is_empty() => (mode == "+x", files),
        _ => {
            io.error("chmod", format!("usage: {}", usage("chmod")));
            return Ok(2);
        }
    };
    let mut status = 0;
    for file in files {
        if let Err(e) = shell.vfs.set_executable(&path_of(shell, file), mode) {
            io.error("chmod", e);
            status = 1;
        }
    }
    Ok(status)
}

fn bracket(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    match args.split_last() {
        Some((last, rest)) if last == "]" => test(shell, rest, io),
        _ => {
            io.error("[", "missing `]`");
            Ok(2)
        }
    }
}

fn test(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    match evaluate(shell, args) {
        Ok(true) => Ok(0),
        Ok(false) => Ok(1),
        Err(message) => {
            io.error("test", message);
            Ok(2)
        }
    }
}

/// `test`'s expression, parsed by `brush-parser` with POSIX's rules for one to four arguments.
fn evaluate(shell: &Shell, args: &[String]) -> Result<bool, String> {
    use brush_parser::ast::TestExpr;
    fn eval(shell: &Shell, expr: &TestExpr) -> Result<bool, String> {
        Ok(match expr {
            TestExpr::False => false,
            TestExpr::Literal(s) => !s.is_empty(),
            TestExpr::And(left, right) => eval(shell, left)? && eval(shell, right)?,
            TestExpr::Or(left, right) => eval(shell, left)? || eval(shell, right)?,
            TestExpr::Not(inner) => !eval(shell, inner)?,
            TestExpr::Parenthesized(inner) => eval(shell, inner)?,
            TestExpr::UnaryTest(predicate, operand) => shell.unary_test(predicate, operand),
            TestExpr::BinaryTest(predicate, left, right) => shell.binary_test(predicate, left, right)?,
        })
    }
    let expr = brush_parser::test_command::parse(args).map_err(|_| format!("{}: invalid expression", args.join(" ")))?;
    eval(shell, &expr)
}

fn export(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    // `export PATH HOSTDIR` writes a workspace subtree out; anything else exports variables.
    if let [path, host] = args {
        let workspace_path = path_of(shell, path);
        if !path.contains('=') && host.contains('/') && shell.vfs.exists(&workspace_path) {
            return Ok(export_tree(shell, &workspace_path, Path::new(host), io));
        }
    }
    if args.is_empty() {
        for (k, v) in shell.exported_vars() {
            io.out(format!("export {k}={v}\n"));
        }
        return Ok(0);
    }
    let mut status = 0;
    for arg in args {
        let (name, value) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (arg.as_str(), None),
        };
        if !crate::shell::syntax::is_name(name) {
            io.error("export", format!("`{arg}`: not a valid variable name"));
            status = 1;
            continue;
        }
        if let Some(value) = value {
            shell.set_var(name, value);
        }
        shell.export_var(name);
    }
    Ok(status)
}

/// Write a workspace subtree into a host directory (created if missing). Everything is written
/// beneath a handle of that directory and replaces what is in the way, so a symlink there (one
/// an earlier export made, say) is replaced, never written through.
fn export_tree(shell: &Shell, root: &str, host: &Path, io: &mut Io) -> i32 {
    let target = std::fs::create_dir_all(host).and_then(|()| crate::beneath::Beneath::open(host));
    let target = match target {
        Ok(target) => target,
        Err(e) => {
            io.error("export", format!("{}: {e} (the target must be a directory, not a symlink)", host.display()));
            return 1;
        }
    };
    let mut written = 0usize;
    for (path, node) in shell.vfs.walk(root) {
        let relative = path[root.len()..].trim_start_matches('/');
        let relative = if relative.is_empty() && !shell.vfs.is_dir(root) { vfs::file_name(root) } else { relative };
        let result = match &node.kind {
            NodeKind::Dir => target.ensure_dir(relative).map(drop),
            NodeKind::File { executable, .. } => shell
                .vfs
                .reader(path)
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|mut data| target.write_file(relative, &mut data, *executable, node.mtime_ns).map(drop)),
            NodeKind::Symlink { target: link } => target.symlink(relative, link).map(drop),
        };
        if let Err(e) = result {
            io.error("export", format!("{}: {e}", host.join(relative).display()));
            return 1;
        }
        written += usize::from(matches!(node.kind, NodeKind::File { .. }));
    }
    io.out(format!("exported {written} files from {root} to {}\n", host.display()));
    0
}

fn import(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let (host, dest) = match args {
        [host] => (Path::new(host), None),
        [host, dest] => (Path::new(host), Some(dest)),
        _ => {
            io.error("import", format!("usage: {}", usage("import")));
            return Ok(2);
        }
    };
    let Ok(meta) = std::fs::metadata(host) else {
        io.error("import", format!("{}: No such file or directory on the host", host.display()));
        return Ok(1);
    };
    let name = host
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let dest = match dest {
        Some(d) => path_of(shell, d),
        None => vfs::resolve(&shell.cwd, &name),
    };
    // Stage into a copy: a failure halfway leaves the workspace as it was.
    let mut staged = shell.vfs.clone();
    let result = if meta.is_dir() {
        import_tree(&mut staged, host, &dest)
    } else {
        import_file(&mut staged, host, &dest).map(|_| 1)
    };
    match result {
        Ok(count) => {
            shell.vfs = staged;
            io.out(format!("imported {count} files into {dest}\n"));
            Ok(0)
        }
        Err(message) => {
            io.error("import", format!("{message} (nothing was imported)"));
            Ok(1)
        }
    }
}

fn import_file(vfs: &mut Vfs, host: &Path, dest: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let data = std::fs::read(host).map_err(|e| format!("{}: {e}", host.display()))?;
    let executable = std::fs::metadata(host).map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false);
    vfs.mkdir_p(vfs::parent_of(dest)).map_err(|e| e.to_string())?;
    let kind = NodeKind::File { content: Content::Bytes(std::sync::Arc::new(data)), executable };
    vfs.put(dest, kind, vfs::now_ns()).map_err(|e| e.to_string())
}

fn import_tree(vfs: &mut Vfs, host: &Path, dest: &str) -> Result<usize, String> {
    vfs.mkdir_p(dest).map_err(|e| e.to_string())?;
    let walker = ignore::WalkBuilder::new(host).hidden(false).filter_entry(|e| e.file_name() != ".git").build();
    let mut count = 0;
    for entry in walker {
        let entry = entry.map_err(|e| e.to_string())?;
        let relative = entry.path().strip_prefix(host).map_err(|e| e.to_string())?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        let target = format!("{}/{}", dest.trim_end_matches('/'), relative.to_string_lossy());
        let file_type = entry.file_type().ok_or("unknown file type")?;
        if file_type.is_dir() {
            vfs.mkdir_p(&target).map_err(|e| e.to_string())?;
        } else if file_type.is_symlink() {
            let link = std::fs::read_link(entry.path()).map_err(|e| e.to_string())?;
            let _ = vfs.remove(&target, true);
            vfs.symlink(&link.to_string_lossy(), &target).map_err(|e| e.to_string())?;
        } else {
            import_file(vfs, entry.path(), &target)?;
            count += 1;
        }
    }
    Ok(count)
}

fn unset(shell: &mut Shell, args: &[String], _: &mut Io) -> Status {
    let (functions, variables, names) = match args.first().map(String::as_str) {
        Some("-f") => (true, false, &args[1..]),
        Some("-v") => (false, true, &args[1..]),
        _ => (true, true, args),
    };
    for name in names {
        // Plain `unset NAME`: the variable if there is one, else the function.
        if variables && shell.var(name).is_some() {
            shell.unset_var(name);
        } else if functions {
            shell.unset_function(name);
        }
    }
    Ok(0)
}

fn env(shell: &mut Shell, _: &[String], io: &mut Io) -> Status {
    for (k, v) in shell.exported_vars() {
        io.out(format!("{k}={v}\n"));
    }
    Ok(0)
}

fn set(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    if args.is_empty() {
        let listing: String = shell.vars().map(|(k, v)| format!("{k}={}\n", printf::shell_quote(v))).collect();
        io.out(listing);
        return Ok(0);
    }
    let mut index = 0;
    while index < args.len() {
        let arg = &args[index];
        let on = arg.starts_with('-');
        if arg == "--" {
            shell.replace_positional(args[index + 1..].to_vec());
            return Ok(0);
        }
        if !(on || arg.starts_with('+')) || arg.len() < 2 {
            shell.replace_positional(args[index..].to_vec());
            return Ok(0);
        }
        if &arg[1..] == "o" {
            match args.get(index + 1) {
                Some(name) if shell.options.set_named(name, on) => index += 2,
                Some(name) => {
                    io.error("set", format!("{name}: unknown option name (known: errexit, nounset, xtrace, noglob, pipefail)"));
                    return Ok(2);
                }
                None => {
                    let listing: String = shell
                        .options
                        .listing()
                        .iter()
                        .map(|(name, on)| format!("{name:<15}\t{}\n", if *on { "on" } else { "off" }))
                        .collect();
                    io.out(listing);
                    return Ok(0);
                }
            }
            continue;
        }
        for letter in arg[1..].chars() {
            // `set -eo pipefail`: the `o` takes the next word as its name.
            if letter == 'o' {
                index += 1;
                if !args.get(index).is_some_and(|name| shell.options.set_named(name, on)) {
                    io.error("set", "-o: needs an option name (known: errexit, nounset, xtrace, noglob, pipefail)");
                    return Ok(2);
                }
                continue;
            }
            if !shell.options.set_letter(letter, on) {
                io.error("set", format!("{}{letter}: unsupported option (supported: -e -u -x -f -o NAME)", &arg[..1]));
                return Ok(2);
            }
        }
        index += 1;
    }
    Ok(0)
}

fn shift(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let n = match number_arg("shift", args, 1, io) {
        Ok(n) if n >= 0 => n as usize,
        Ok(n) => {
            io.error("shift", format!("{n}: shift count out of range"));
            return Ok(1);
        }
        Err(code) => return Ok(code),
    };
    if n > shell.positional().len() {
        return Ok(1);
    }
    let rest = shell.positional()[n..].to_vec();
    shell.replace_positional(rest);
    Ok(0)
}

fn local(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    for arg in args {
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        if !crate::shell::syntax::is_name(name) {
            io.error("local", format!("`{arg}`: not a valid identifier"));
            return Ok(1);
        }
        if !shell.make_local(name, value) {
            io.error("local", "can only be used in a function");
            return Ok(1);
        }
    }
    Ok(0)
}

fn return_(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    match number_arg("return", args, shell.last_status, io) {
        Ok(code) => Err(Flow::Return(code & 0xff)),
        Err(code) => Err(Flow::Return(code)),
    }
}

fn read(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let mut raw = false;
    let mut delimiter = b'\n';
    let mut names = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-r" => raw = true,
            "-p" | "-d" => {
                let Some(value) = rest.next() else {
                    io.error("read", format!("{arg}: option requires an argument (usage: {})", usage("read")));
                    return Ok(2);
                };
                if arg == "-p" {
                    io.err(value);
                } else {
                    delimiter = value.bytes().next().unwrap_or(0);
                }
            }
            flag if flag.starts_with('-') && names.is_empty() && flag.len() > 1 => {
                io.error("read", format!("{flag}: unsupported option (usage: {})", usage("read")));
                return Ok(2);
            }
            name if crate::shell::syntax::is_name(name) => names.push(name.to_string()),
            name => {
                io.error("read", format!("`{name}`: not a valid identifier"));
                return Ok(1);
            }
        }
    }
    let mut line = String::new();
    let mut complete = false;
    while let Some(bytes) = io.read_line(delimiter) {
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        complete = text.ends_with(delimiter as char);
        if complete {
            text.pop();
        }
        // Without -r a trailing backslash continues the line.
        if !raw && complete && text.ends_with('\\') && !text.ends_with("\\\\") {
            text.pop();
            line.push_str(&text);
            complete = false;
            continue;
        }
        line.push_str(&text);
        break;
    }
    let reached_end = !complete;
    if !raw {
        let mut unescaped = String::with_capacity(line.len());
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                unescaped.extend(chars.next());
            } else {
                unescaped.push(c);
            }
        }
        line = unescaped;
    }
    if names.is_empty() {
        shell.set_var("REPLY", line);
    } else {
        let mut fields = shell.split_for_read(&line, names.len()).into_iter();
        for name in &names {
            shell.set_var(name, fields.next().unwrap_or_default());
        }
    }
    Ok(i32::from(reached_end))
}

fn source(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let Some((file, rest)) = args.split_first() else {
        io.error("source", format!("missing file (usage: {})", usage("source")));
        return Ok(2);
    };
    shell.source(file, rest.to_vec(), io)
}

fn help(_: &mut Shell, args: &[String], io: &mut Io) -> Status {
    match args.first() {
        None => {
            io.out("Builtins (help NAME for details):\n");
            for (name, _, usage, _) in BUILTINS {
                io.out(format!("  {name:<9} {usage}\n"));
            }
            io.out("Text tools over the workspace (GNU-compatible; help NAME for their flags):\n ");
            for (name, _, _) in textutil::TOOLS {
                io.out(format!(" {name}"));
            }
            io.out("\n");
            io.out("Routed tools (cargo, rustup, rustc, …) run in the execution backend; see `backend`.\n");
            Ok(0)
        }
        Some(name) => match BUILTINS.iter().map(|b| (b.0, b.2, b.3)).chain(textutil::TOOLS.iter().copied()).find(|b| b.0 == name) {
            Some((_, usage, description)) => {
                io.out(format!("usage: {usage}\n{description}\n"));
                Ok(0)
            }
            None => {
                io.error("help", format!("{name}: no such builtin (run `help` for the list)"));
                Ok(1)
            }
        },
    }
}

fn xargs(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    let (per_run, command) = match args {
        [flag, n, rest @ ..] if flag == "-n" => match n.parse::<usize>() {
            Ok(n) if n > 0 => (n, rest),
            _ => {
                io.error("xargs", format!("invalid number for -n: {n:?} (usage: {})", usage("xargs")));
                return Ok(1);
            }
        },
        [flag, ..] if flag.starts_with('-') && flag.len() > 1 => {
            io.error("xargs", format!("unknown option {flag} (usage: {})", usage("xargs")));
            return Ok(1);
        }
        rest => (usize::MAX, rest),
    };
    let command: Vec<String> = if command.is_empty() { vec!["echo".into()] } else { command.to_vec() };
    let input = String::from_utf8_lossy(&io.take_stdin()).into_owned();
    let words: Vec<String> = input.split_whitespace().map(String::from).collect();
    // GNU: with no input, the command runs once with no words (unless -r).
    let batches: Vec<&[String]> = if words.is_empty() { vec![&[]] } else { words.chunks(per_run).collect() };
    let mut status = 0;
    for batch in batches {
        let argv: Vec<String> = command.iter().chain(batch).cloned().collect();
        // GNU xargs: 123 when any run failed.
        if shell.run_argv(&argv, io)? != 0 {
            status = 123;
        }
    }
    Ok(status)
}

fn history(shell: &mut Shell, _: &[String], io: &mut Io) -> Status {
    for (index, line) in shell.history.iter().enumerate() {
        io.out(format!("{:>5}  {line}\n", index + 1));
    }
    Ok(0)
}

fn number_arg(name: &str, args: &[String], default: i32, io: &mut Io) -> Result<i32, i32> {
    match args.first() {
        None => Ok(default),
        Some(n) => n.parse().map_err(|_| {
            io.error(name, format!("{n}: numeric argument required"));
            2
        }),
    }
}

fn exit(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    match number_arg("exit", args, shell.last_status, io) {
        Ok(code) => Err(Flow::Exit(code)),
        Err(code) => Err(Flow::Exit(code)),
    }
}

fn break_(_: &mut Shell, args: &[String], io: &mut Io) -> Status {
    match number_arg("break", args, 1, io) {
        Ok(n) if n >= 1 => Err(Flow::Break(n as usize)),
        _ => Ok(1),
    }
}

fn continue_(_: &mut Shell, args: &[String], io: &mut Io) -> Status {
    match number_arg("continue", args, 1, io) {
        Ok(n) if n >= 1 => Err(Flow::Continue(n as usize)),
        _ => Ok(1),
    }
}

fn save(shell: &mut Shell, _: &[String], io: &mut Io) -> Status {
    let Some(mut saver) = shell.saver.take() else {
        io.error("save", "this shell has no state file");
        return Ok(1);
    };
    let result = saver(shell);
    shell.saver = Some(saver);
    match result {
        Ok(message) => {
            io.out(format!("{message}\n"));
            Ok(0)
        }
        Err(e) => {
            io.error("save", format!("{e:#}"));
            Ok(1)
        }
    }
}

fn backend(shell: &mut Shell, args: &[String], io: &mut Io) -> Status {
    match args.first().map(String::as_str) {
        None => {
            for line in shell.backend.describe() {
                io.out(format!("{line}\n"));
            }
            Ok(0)
        }
        Some("start") => match shell.backend.start(&mut shell.vfs) {
            Ok(()) => Ok(0),
            Err(e) => {
                io.error("backend", format!("{e:#}"));
                Ok(1)
            }
        },
        Some("restart") => {
            shell.backend.restart();
            io.out("the next routed tool starts a new session\n");
            Ok(0)
        }
        Some(other) => {
            io.error("backend", format!("{other}: unknown subcommand (usage: {})", usage("backend")));
            Ok(2)
        }
    }
}
