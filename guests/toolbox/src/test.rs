//! `test EXPR` and `[ EXPR ]`: the unary file and string tests, string and integer
//! comparisons, and `!`. Exit 0 for true, 1 for false, 2 for an expression it cannot read.

use crate::paths;

pub fn test(args: &[String], cwd: &str) -> i32 {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match eval(&words, cwd) {
        Some(true) => 0,
        Some(false) => 1,
        None => {
            eprintln!("test: cannot read the expression '{}'", words.join(" "));
            2
        }
    }
}

fn eval(w: &[&str], cwd: &str) -> Option<bool> {
    match w {
        [] => Some(false),
        ["!", rest @ ..] => eval(rest, cwd).map(|b| !b),
        [s] => Some(!s.is_empty()),
        [op, operand] => unary(op, operand, cwd),
        [a, op, b] => binary(a, op, b),
        _ => None,
    }
}

fn unary(op: &str, operand: &str, cwd: &str) -> Option<bool> {
    let meta = || std::fs::metadata(paths::normal(cwd, operand));
    Some(match op {
        "-e" => {
            meta().is_ok()
                || paths::above_mounts(&paths::normal(cwd, operand), &paths::mounts()).is_some()
        }
        "-f" => meta().is_ok_and(|m| m.is_file()),
        "-d" => {
            meta().is_ok_and(|m| m.is_dir())
                || paths::above_mounts(&paths::normal(cwd, operand), &paths::mounts()).is_some()
        }
        "-s" => meta().is_ok_and(|m| m.len() > 0),
        "-z" => operand.is_empty(),
        "-n" => !operand.is_empty(),
        _ => return None,
    })
}

fn binary(a: &str, op: &str, b: &str) -> Option<bool> {
    match op {
        "=" | "==" => return Some(a == b),
        "!=" => return Some(a != b),
        _ => {}
    }
    let (x, y): (i64, i64) = (a.parse().ok()?, b.parse().ok()?);
    Some(match op {
        "-eq" => x == y,
        "-ne" => x != y,
        "-lt" => x < y,
        "-le" => x <= y,
        "-gt" => x > y,
        "-ge" => x >= y,
        _ => return None,
    })
}
