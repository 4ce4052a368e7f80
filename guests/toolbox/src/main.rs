//! `waci/toolbox`: what `exec` runs inside a container's sandbox (DESIGN.md §4). A small
//! shell (`sh`) and the file and env tools a user reaches for to look inside a running
//! container: `ls`, `cat`, `env`, `echo`, `pwd`, `cd`, `head`, `tail`, `wc`, `mkdir`, `rm`,
//! `test`, `help`.
//!
//! Like busybox, the first argument names the tool: `sh` reads command lines from stdin
//! (with a prompt when stdin is a terminal) until `exit` or the end of input; `sh -c LINE`
//! runs one line; `cat /data/x` runs `cat`. The exit code is the last command's.
//!
//! It sees only what the sandbox gives it: the container's env and its volumes at their
//! mount paths (WASI preopens). Nothing here can reach further; the host enforces it.

mod paths;
mod sh;
mod test;
mod tools;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut shell = sh::Shell::new();
    let code = if args.is_empty() {
        shell.run(vec!["help".to_string()])
    } else {
        shell.run(args)
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    wasip2::cli::exit::exit_with_code(code.clamp(0, 255) as u8);
}
