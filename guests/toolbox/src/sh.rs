//! The shell: command lines read from stdin or given with `-c`, words split as a shell
//! splits them (quotes, backslashes), `$NAME`, `${NAME}` and `$?` expanded outside single
//! quotes, `;`, `&&` and `||` between commands, and `>`/`>>` to send a command's output to
//! a file. Builtins only: no programs, pipes or jobs.

use crate::paths;
use crate::tools;
use std::io::{BufRead, Write};

pub struct Shell {
    /// The working directory, absolute and normal.
    pub cwd: String,
    /// The exit code of the last command (`$?`).
    status: i32,
    /// Set by `exit`: the shell ends with this code.
    exit: Option<i32>,
}

impl Shell {
    pub fn new() -> Shell {
        // Start in the first mount, where the container's files are; `/` if it has none.
        let cwd = paths::mounts()
            .into_iter()
            .next()
            .unwrap_or_else(|| "/".to_string());
        Shell {
            cwd,
            status: 0,
            exit: None,
        }
    }

    /// Runs one command given as words (the first names it) and returns its exit code.
    pub fn run(&mut self, words: Vec<String>) -> i32 {
        let Some(name) = words.first().cloned() else {
            return self.status;
        };
        let code = match name.as_str() {
            "sh" => self.sh(&words[1..]),
            _ => self.command(words),
        };
        self.status = code;
        self.exit.unwrap_or(code)
    }

    fn sh(&mut self, args: &[String]) -> i32 {
        match args {
            [] => self.interactive(),
            [flag, line, ..] if flag == "-c" => self.line(line),
            _ => {
                eprintln!("sh: usage: sh [-c LINE]");
                2
            }
        }
    }

    /// Lines from stdin until `exit` or the end of input; a prompt before each when stdin
    /// is a terminal.
    fn interactive(&mut self) -> i32 {
        let tty = wasip2::cli::terminal_stdin::get_terminal_stdin().is_some();
        if tty {
            println!("waci toolbox shell: 'help' lists the commands, 'exit' leaves.");
        }
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        loop {
            if tty {
                print!("{} $ ", self.cwd);
                let _ = std::io::stdout().flush();
            }
            let mut line = String::new();
            match input.read_line(&mut line) {
                Ok(0) | Err(_) => return self.status,
                Ok(_) => {}
            }
            self.status = self.line(&line);
            if let Some(code) = self.exit {
                return code;
            }
        }
    }

    /// One command line; its exit code is its last command's.
    pub fn line(&mut self, line: &str) -> i32 {
        let expanded = self.expand(line);
        let Some(words) = shlex::split(&expanded) else {
            eprintln!("sh: unbalanced quotes");
            self.status = 2;
            return 2;
        };
        let mut command = Vec::new();
        let mut skip = false;
        for w in words.into_iter().chain([";".to_string()]) {
            if !matches!(w.as_str(), ";" | "&&" | "||") {
                command.push(w);
                continue;
            }
            if !skip && !command.is_empty() {
                self.status = self.run(std::mem::take(&mut command));
                if self.exit.is_some() {
                    return self.status;
                }
            }
            command.clear();
            skip = match w.as_str() {
                "&&" => self.status != 0,
                "||" => self.status == 0,
                _ => false,
            };
        }
        self.status
    }

    /// `$NAME`, `${NAME}` and `$?` replaced outside single quotes, and the operators
    /// (`;`, `&&`, `||`, `>`, `>>`) outside quotes set apart as words of their own.
    fn expand(&self, line: &str) -> String {
        let mut out = String::new();
        let mut chars = line.chars().peekable();
        let (mut single, mut double) = (false, false);
        while let Some(c) = chars.next() {
            match c {
                '\'' if !double => {
                    single = !single;
                    out.push(c);
                }
                '"' if !single => {
                    double = !double;
                    out.push(c);
                }
                '\\' if !single => {
                    out.push(c);
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                ';' | '>' | '&' | '|' if !single && !double => {
                    out.push(' ');
                    out.push(c);
                    if c != ';' && chars.peek() == Some(&c) {
                        out.push(c);
                        chars.next();
                    }
                    out.push(' ');
                }
                '$' if !single => {
                    if chars.peek() == Some(&'?') {
                        chars.next();
                        out.push_str(&self.status.to_string());
                        continue;
                    }
                    let braced = chars.peek() == Some(&'{');
                    if braced {
                        chars.next();
                    }
                    let mut name = String::new();
                    while let Some(&n) = chars.peek() {
                        if n.is_ascii_alphanumeric() || n == '_' {
                            name.push(n);
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    if braced && chars.peek() == Some(&'}') {
                        chars.next();
                    }
                    if name.is_empty() {
                        out.push('$');
                    } else {
                        out.push_str(&std::env::var(&name).unwrap_or_default());
                    }
                }
                c => out.push(c),
            }
        }
        out
    }

    /// A builtin, its output to stdout or to the file after `>`/`>>`.
    fn command(&mut self, mut words: Vec<String>) -> i32 {
        let redirect = words.iter().position(|w| w == ">" || w == ">>");
        let mut file = None;
        if let Some(i) = redirect {
            let Some(target) = words.get(i + 1).cloned() else {
                eprintln!("sh: {} needs a file", words[i]);
                return 2;
            };
            let path = paths::normal(&self.cwd, &target);
            let opened = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(words[i] == ">>")
                .truncate(words[i] == ">")
                .open(&path);
            match opened {
                Ok(f) => file = Some(f),
                Err(e) => {
                    eprintln!("sh: {target}: {e}");
                    return 1;
                }
            }
            words.truncate(i);
        }
        let name = words[0].clone();
        let args = &words[1..];
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        let out: &mut dyn Write = match file.as_mut() {
            Some(f) => f,
            None => &mut lock,
        };
        let code = match name.as_str() {
            "cd" => self.cd(args),
            "exit" => {
                let code = match args.first().map(|a| a.parse::<i32>()) {
                    None => self.status,
                    Some(Ok(n)) => n,
                    Some(Err(_)) => {
                        eprintln!("exit: {}: a number is needed", args[0]);
                        2
                    }
                };
                self.exit = Some(code);
                code
            }
            "pwd" => {
                let _ = writeln!(out, "{}", self.cwd);
                0
            }
            "help" => {
                let _ = out.write_all(tools::HELP.as_bytes());
                0
            }
            _ => match tools::run(&name, args, &self.cwd, out) {
                Some(code) => code,
                None => {
                    eprintln!("{name}: command not found ('help' lists the commands)");
                    127
                }
            },
        };
        let _ = out.flush();
        code
    }

    fn cd(&mut self, args: &[String]) -> i32 {
        let target = match args.first() {
            Some(t) => paths::normal(&self.cwd, t),
            None => paths::mounts()
                .into_iter()
                .next()
                .unwrap_or_else(|| "/".into()),
        };
        let mounts = paths::mounts();
        let is_dir = if paths::in_mount(&target, &mounts) {
            std::fs::metadata(&target).map(|m| m.is_dir())
        } else if paths::above_mounts(&target, &mounts).is_some() {
            Ok(true)
        } else {
            Err(std::io::Error::from(std::io::ErrorKind::NotFound))
        };
        match is_dir {
            Ok(true) => {
                self.cwd = target;
                0
            }
            Ok(false) => {
                eprintln!("cd: {target}: not a directory");
                1
            }
            Err(e) => {
                eprintln!("cd: {target}: {e}");
                1
            }
        }
    }
}
