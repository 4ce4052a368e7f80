//! The file and env tools. Each takes its arguments, the shell's working directory and
//! where its output goes, and returns its exit code (errors on stderr, as `NAME: ...`).

use crate::paths;
use std::io::{Read, Write};

pub const HELP: &str = "\
waci toolbox: a shell inside the container's sandbox. It sees the container's env and its
volumes at their mount paths, and nothing else.

  sh [-c LINE]          a shell; `;`, `&&`, `||`, `>`, `>>`, `$NAME` and `$?` work
  ls [-l] [-a] [PATH..] list a directory (`ls /` shows the mount points)
  cat [FILE..]          print files (stdin if none)
  head [-n N] [FILE]    the first N lines (10)
  tail [-n N] [FILE]    the last N lines (10)
  wc [-l|-w|-c] [FILE..] count lines, words and bytes
  env                   the container's environment variables
  echo [-n] [WORD..]    print the words
  pwd, cd [DIR]         the working directory
  mkdir [-p] DIR..      make directories
  rm [-r] [-f] PATH..   remove files (and directories with -r)
  test EXPR, [ EXPR ]   -e -f -d -s -z -n PATH/TEXT, = !=, -eq -ne -lt -le -gt -ge, !
  help                  this list
  exit [N]              leave the shell with code N
";

/// Runs tool `name`; `None` if there is no such tool.
pub fn run(name: &str, args: &[String], cwd: &str, out: &mut dyn Write) -> Option<i32> {
    let code = match name {
        "ls" => ls(args, cwd, out),
        "cat" => cat(args, cwd, out),
        "head" => ends(name, args, cwd, out),
        "tail" => ends(name, args, cwd, out),
        "wc" => wc(args, cwd, out),
        "env" => {
            for (k, v) in std::env::vars() {
                let _ = writeln!(out, "{k}={v}");
            }
            0
        }
        "echo" => {
            let (newline, words) = match args.first().map(String::as_str) {
                Some("-n") => (false, &args[1..]),
                _ => (true, args),
            };
            let _ = write!(out, "{}", words.join(" "));
            if newline {
                let _ = writeln!(out);
            }
            0
        }
        "mkdir" => each(name, args, cwd, |path, flags| {
            if flags.contains('p') {
                std::fs::create_dir_all(path)
            } else {
                std::fs::create_dir(path)
            }
        }),
        "rm" => each(name, args, cwd, |path, flags| {
            let removed = match std::fs::symlink_metadata(path) {
                Ok(m) if m.is_dir() && flags.contains('r') => std::fs::remove_dir_all(path),
                Ok(m) if m.is_dir() => Err(std::io::Error::other("is a directory (use -r)")),
                Ok(_) => std::fs::remove_file(path),
                Err(e) => Err(e),
            };
            match removed {
                Err(e) if flags.contains('f') && e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                r => r,
            }
        }),
        "test" => crate::test::test(args, cwd),
        "[" => match args.split_last() {
            Some((last, rest)) if last == "]" => crate::test::test(rest, cwd),
            _ => {
                eprintln!("[: missing ]");
                2
            }
        },
        _ => return None,
    };
    Some(code)
}

/// Splits `-x` flags (letters collected) from operands.
fn flags(args: &[String]) -> (String, Vec<&String>) {
    let mut letters = String::new();
    let mut operands = Vec::new();
    for a in args {
        match a.strip_prefix('-') {
            Some(f) if !f.is_empty() && !operands.is_empty() || a == "-" => operands.push(a),
            Some(f) if !f.is_empty() => letters.push_str(f),
            _ => operands.push(a),
        }
    }
    (letters, operands)
}

/// `f` on every operand; the code is 1 if any failed.
fn each(
    name: &str,
    args: &[String],
    cwd: &str,
    f: impl Fn(&str, &str) -> std::io::Result<()>,
) -> i32 {
    let (letters, operands) = flags(args);
    if operands.is_empty() {
        eprintln!("{name}: missing operand");
        return 2;
    }
    let mut code = 0;
    for op in operands {
        if let Err(e) = f(&paths::normal(cwd, op), &letters) {
            eprintln!("{name}: {op}: {e}");
            code = 1;
        }
    }
    code
}

fn ls(args: &[String], cwd: &str, out: &mut dyn Write) -> i32 {
    let (letters, operands) = flags(args);
    let (long, all) = (letters.contains('l'), letters.contains('a'));
    let targets: Vec<String> = if operands.is_empty() {
        vec![cwd.to_string()]
    } else {
        operands.iter().map(|o| o.to_string()).collect()
    };
    let mounts = paths::mounts();
    let mut code = 0;
    for (i, target) in targets.iter().enumerate() {
        let abs = paths::normal(cwd, target);
        if targets.len() > 1 {
            let _ = writeln!(out, "{}{target}:", if i > 0 { "\n" } else { "" });
        }
        if let Some(names) = paths::above_mounts(&abs, &mounts) {
            for n in names {
                row(out, long, true, None, &n);
            }
            continue;
        }
        let meta = match std::fs::metadata(&abs) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("ls: {target}: {e}");
                code = 1;
                continue;
            }
        };
        if !meta.is_dir() {
            row(out, long, false, Some(meta.len()), target);
            continue;
        }
        let entries = match std::fs::read_dir(&abs) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("ls: {target}: {e}");
                code = 1;
                continue;
            }
        };
        let mut rows: Vec<(String, bool, u64)> = entries
            .flatten()
            .map(|e| {
                let m = e.metadata().ok();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    m.as_ref().is_some_and(|m| m.is_dir()),
                    m.map_or(0, |m| m.len()),
                )
            })
            .filter(|(n, _, _)| all || !n.starts_with('.'))
            .collect();
        rows.sort();
        for (name, dir, len) in rows {
            row(out, long, dir, Some(len), &name);
        }
    }
    code
}

/// One line of `ls`: the name, or with `-l` its kind (`d` or `-`) and size first.
fn row(out: &mut dyn Write, long: bool, dir: bool, len: Option<u64>, name: &str) {
    let _ = if long {
        let kind = if dir { 'd' } else { '-' };
        let len = len.map_or("-".to_string(), |l| l.to_string());
        writeln!(out, "{kind} {len:>10} {name}")
    } else {
        writeln!(out, "{name}")
    };
}

/// Opens each operand (stdin for none or `-`) and hands its bytes to `f`.
fn inputs(name: &str, operands: &[&String], cwd: &str, mut f: impl FnMut(&str, Vec<u8>)) -> i32 {
    let mut code = 0;
    if operands.is_empty() {
        let mut bytes = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut bytes);
        f("", bytes);
        return 0;
    }
    for op in operands {
        let read = if op.as_str() == "-" {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map(|_| bytes)
        } else {
            std::fs::read(paths::normal(cwd, op))
        };
        match read {
            Ok(bytes) => f(op, bytes),
            Err(e) => {
                eprintln!("{name}: {op}: {e}");
                code = 1;
            }
        }
    }
    code
}

/// Files in order; stdin (for none or `-`) as it comes, so `cat` on a terminal answers
/// each line.
fn cat(args: &[String], cwd: &str, out: &mut dyn Write) -> i32 {
    let stdin = [String::from("-")];
    let operands = if args.is_empty() { &stdin[..] } else { args };
    let mut code = 0;
    for op in operands {
        if op == "-" {
            let mut buf = [0u8; 4096];
            let mut input = std::io::stdin();
            while let Ok(n @ 1..) = input.read(&mut buf) {
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
            }
            continue;
        }
        match std::fs::read(paths::normal(cwd, op)) {
            Ok(bytes) => {
                let _ = out.write_all(&bytes);
            }
            Err(e) => {
                eprintln!("cat: {op}: {e}");
                code = 1;
            }
        }
    }
    code
}

/// `head` and `tail`: `-n N`, `-nN` or `-N` lines (10).
fn ends(name: &str, args: &[String], cwd: &str, out: &mut dyn Write) -> i32 {
    let mut n = 10usize;
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let count = if a == "-n" {
            i += 1;
            args.get(i).map(String::as_str)
        } else if let Some(v) = a.strip_prefix("-n") {
            Some(v)
        } else if a.len() > 1 && a.starts_with('-') {
            Some(&a[1..])
        } else {
            operands.push(a);
            None
        };
        if let Some(c) = count {
            match c.parse() {
                Ok(v) => n = v,
                Err(_) => {
                    eprintln!("{name}: invalid number of lines: {c}");
                    return 2;
                }
            }
        }
        i += 1;
    }
    inputs(name, &operands, cwd, |_, bytes| {
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let chosen = if name == "head" {
            &lines[..n.min(lines.len())]
        } else {
            &lines[lines.len().saturating_sub(n)..]
        };
        for l in chosen {
            let _ = out.write_all(l.as_bytes());
        }
    })
}

fn wc(args: &[String], cwd: &str, out: &mut dyn Write) -> i32 {
    let (letters, operands) = flags(args);
    let show = |c: char| letters.is_empty() || letters.contains(c);
    let mut totals = [0usize; 3];
    let mut files = 0;
    let row = |out: &mut dyn Write, counts: [usize; 3], name: &str| {
        let mut cols = Vec::new();
        for (c, v) in ['l', 'w', 'c'].iter().zip(counts) {
            if show(*c) {
                cols.push(format!("{v:>7}"));
            }
        }
        let _ = writeln!(out, "{} {name}", cols.join(" ").trim_end());
    };
    let code = inputs("wc", &operands, cwd, |name, bytes| {
        let text = String::from_utf8_lossy(&bytes);
        let counts = [
            bytes.iter().filter(|b| **b == b'\n').count(),
            text.split_whitespace().count(),
            bytes.len(),
        ];
        for (t, c) in totals.iter_mut().zip(counts) {
            *t += c;
        }
        files += 1;
        row(out, counts, name);
    });
    if files > 1 {
        row(out, totals, "total");
    }
    code
}
