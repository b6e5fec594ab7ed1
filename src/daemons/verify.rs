//! Testing a candidate dnsmasq.conf or nginx.conf with the real program before it is installed.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::{find_binary, output_text, run_with_timeout};
use crate::cluster::{Cluster, Daemon};
use crate::plan::FileKind;
use crate::tree::Change;

/// A candidate config the daemon itself refused: nothing was replaced.
#[derive(Debug, thiserror::Error)]
#[error("{daemon} refused the rendered `{file}`; nothing was replaced:\n{output}")]
pub struct VerifyFailed {
    pub daemon: &'static str,
    pub file: String,
    pub output: String,
}

/// What a verification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The daemon accepted the candidate; the command line used.
    Passed(String),
    /// The program is not installed here: not verified.
    NotInstalled,
    /// Run as another user than root, the program could not open files the config names
    /// (nginx's logs): the syntax was read, the rest not verified. Its message.
    NoPermission(String),
    /// Not tested: `--no-verify`.
    Skipped,
}

/// One config about to be written, and what its test found.
#[derive(Debug)]
pub struct Checked<'a> {
    /// Where it is written on this machine.
    pub path: &'a Path,
    pub daemon: &'a Daemon,
    pub verified: Verified,
}

/// Tests every dnsmasq.conf and nginx.conf `changes` write with the real program (`skip`:
/// none, for `--no-verify`); the first refusal is the error. `staged`: the files are written
/// under `--root`, so nothing nginx -t creates or changes may be at its real path.
pub fn verify_changes<'a>(
    cluster: &'a Cluster,
    changes: &'a [Change],
    skip: bool,
    staged: bool,
) -> Result<Vec<Checked<'a>>> {
    let mut checked = Vec::new();
    for change in changes {
        let Change::WriteFile {
            path,
            contents,
            kind,
            ..
        } = change
        else {
            continue;
        };
        let (daemon, real) = match kind {
            FileKind::DnsmasqConf => (&cluster.daemons.dnsmasq, &cluster.paths.dnsmasq_conf),
            FileKind::NginxConf => (&cluster.daemons.nginx, &cluster.paths.nginx_conf),
            FileKind::DhcpHosts | FileKind::Profile => continue,
        };
        let verified = if skip {
            Verified::Skipped
        } else {
            let candidate = Candidate {
                kind: *kind,
                contents,
                real,
                host: path,
            };
            verify(daemon, &candidate, staged, cluster.daemons.timeout)?
        };
        checked.push(Checked {
            path,
            daemon,
            verified,
        });
    }
    Ok(checked)
}

/// A dnsmasq.conf or nginx.conf about to be written.
struct Candidate<'a> {
    kind: FileKind,
    contents: &'a str,
    /// Its path on the boot server.
    real: &'a Path,
    /// Its path on this machine (under `--root`).
    host: &'a Path,
}

/// Tests `candidate` with the real program. nginx gets the candidate in a scratch folder
/// beside links to the files of the config's own folder (so `include mime.types` resolves as
/// it will when installed), and, when `staged`, with its logs, pid file and temporary folders
/// in that folder too.
fn verify(
    daemon: &Daemon,
    candidate: &Candidate,
    staged: bool,
    timeout: Duration,
) -> Result<Verified> {
    let Some(binary) = find_binary(&daemon.binary) else {
        return Ok(Verified::NotInstalled);
    };
    let Candidate {
        kind,
        contents,
        real,
        host,
    } = *candidate;
    let scratch = tempfile::Builder::new()
        .prefix("pxectl-verify.")
        .tempdir()
        .context("cannot create a scratch folder to test the config in")?;
    let name = real.file_name().unwrap_or_default();
    let tested = scratch.path().join(name);
    let text = if kind == FileKind::NginxConf && staged {
        let moved = scratch.path().join("moved");
        std::fs::create_dir(&moved)
            .with_context(|| format!("cannot create `{}`", moved.display()))?;
        into_scratch(contents, &moved)
    } else {
        contents.to_string()
    };
    std::fs::write(&tested, text)
        .with_context(|| format!("cannot write `{}`", tested.display()))?;
    let mut cmd = Command::new(&binary);
    let shown = match kind {
        FileKind::DnsmasqConf => {
            cmd.arg("--test").arg("-C").arg(&tested);
            format!("{} --test", binary.display())
        }
        FileKind::NginxConf => {
            for dir in [host.parent(), real.parent()].into_iter().flatten() {
                link_siblings(dir, name, scratch.path());
            }
            cmd.args(["-t", "-q", "-e", "stderr", "-p"])
                .arg(scratch.path())
                .arg("-c")
                .arg(&tested);
            // Keep the test away from the live pid file (/run/nginx.pid), unless the config names
            // one (moved into the scratch folder when `staged`).
            if !contents.lines().any(|l| l.trim_start().starts_with("pid ")) {
                cmd.arg("-g").arg(format!(
                    "pid {};",
                    scratch.path().join("nginx.pid").display()
                ));
            }
            format!("{} -t", binary.display())
        }
        FileKind::DhcpHosts | FileKind::Profile => unreachable!("only configs are tested"),
    };
    let out = run_with_timeout(cmd, timeout, &format!("`{shown}`"))?;
    if out.status.success() {
        return Ok(Verified::Passed(shown));
    }
    let text = output_text(&out);
    // As another user than root, nginx -t cannot open the logs root's nginx writes: that says
    // nothing about the config, which it parsed.
    if kind == FileKind::NginxConf
        && !nix::unistd::geteuid().is_root()
        && text.contains("(13: Permission denied)")
    {
        return Ok(Verified::NoPermission(text));
    }
    Err(VerifyFailed {
        daemon: daemon.name,
        file: real.display().to_string(),
        output: text.replace(&tested.display().to_string(), &real.display().to_string()),
    }
    .into())
}

/// Links every entry of `dir` but `except` into `into`, first come first served.
fn link_siblings(dir: &Path, except: &std::ffi::OsStr, into: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name != except && !into.join(&name).exists() {
            let _ = std::os::unix::fs::symlink(entry.path(), into.join(&name));
        }
    }
}

/// The directives naming the folders nginx buffers request bodies and upstream replies in.
const TEMP_PATHS: [&str; 5] = [
    "client_body_temp_path",
    "proxy_temp_path",
    "fastcgi_temp_path",
    "uwsgi_temp_path",
    "scgi_temp_path",
];

/// nginx.conf text `contents` with everything `nginx -t` creates or changes moved into `dir`:
/// the absolute paths of the logs (`access_log`, `error_log`), the pid file and the temporary
/// folders (`*_temp_path`) point into it, and the top-level `http {}` sets every temporary
/// folder it does not set itself there, since as root nginx creates its compiled-in ones
/// (`/var/lib/nginx/body`, ...) and gives them to its `user`. A staged config's files are not
/// this machine's. Lines keep their numbers, so nginx's messages point into the real file.
fn into_scratch(contents: &str, dir: &Path) -> String {
    let mut out = String::with_capacity(contents.len());
    let mut rest = contents;
    let mut moved = 0;
    let moved_to = |moved: usize, suffix: &str| format!("\"{}/{moved}.{suffix}\"", dir.display());
    // Whether the next word is a directive's name, and the name of the one being read.
    let mut directive = true;
    let mut name = "";
    let mut depth = 0usize;
    // Where the body of the top-level `http {` starts in `out`, the temporary folders set
    // directly in it, and whether it is open.
    let mut http = None;
    let mut http_sets = Vec::new();
    let mut in_http = false;
    while let Some(c) = rest.chars().next() {
        let len = if c == '#' {
            rest.find('\n').unwrap_or(rest.len())
        } else if c.is_whitespace() {
            c.len_utf8()
        } else if matches!(c, ';' | '{' | '}') {
            if c == '{' {
                depth += 1;
                if depth == 1 && name == "http" && http.is_none() {
                    http = Some(out.len() + 1);
                    in_http = true;
                }
            } else if c == '}' {
                depth = depth.saturating_sub(1);
                in_http &= depth > 0;
            }
            directive = true;
            1
        } else {
            let len = word_len(rest);
            let word = &rest[..len];
            let suffix = if directive {
                name = word;
                if in_http && depth == 1 && TEMP_PATHS.contains(&word) {
                    http_sets.push(word);
                }
                match word {
                    "access_log" | "error_log" => Some("log"),
                    "pid" => Some("pid"),
                    _ if TEMP_PATHS.contains(&word) => Some("temp"),
                    _ => None,
                }
            } else {
                None
            };
            directive = false;
            if let Some(suffix) = suffix {
                let after = &rest[len..];
                let space = after.len() - after.trim_start().len();
                let path_len = word_len(&after[space..]);
                let path = &after[space..space + path_len];
                if path.trim_start_matches(['"', '\'']).starts_with('/') {
                    moved += 1;
                    out.push_str(&rest[..len + space]);
                    out.push_str(&moved_to(moved, suffix));
                    rest = &after[space + path_len..];
                    continue;
                }
            }
            len
        };
        out.push_str(&rest[..len]);
        rest = &rest[len..];
    }
    if let Some(at) = http {
        let mut set = String::new();
        for temp in TEMP_PATHS.iter().filter(|t| !http_sets.contains(t)) {
            moved += 1;
            let _ = write!(set, " {temp} {};", moved_to(moved, "temp"));
        }
        out.insert_str(at, &set);
    }
    out
}

/// The length of the nginx word `s` starts with: a quoted string, or up to a space or `;{}`.
fn word_len(s: &str) -> usize {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, q @ ('"' | '\''))) => {
            let mut escaped = false;
            for (i, c) in chars {
                if c == q && !escaped {
                    return i + 1;
                }
                escaped = c == '\\' && !escaped;
            }
            s.len()
        }
        _ => s
            .find(|c: char| c.is_whitespace() || matches!(c, ';' | '{' | '}'))
            .unwrap_or(s.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_nginx_t_writes_for_a_staged_nginx_conf_moves_into_the_scratch_folder() {
        let conf = "pid /run/nginx.pid;\n\
                    error_log /var/log/nginx/error.log warn;\n\
                    events { proxy_temp_path events; }\n\
                    http {\n\
                    \x20   access_log  \"/var/log/a b.log\" main; # access_log /in/a/comment;\n\
                    \x20   server { access_log off; location / {access_log /cb.log cb; return 204;} }\n\
                    \x20   log_format x 'access_log /in/a/string';\n\
                    \x20   error_log logs/relative.log;\n\
                    \x20   access_log syslog:server=127.0.0.1;\n\
                    \x20   my_access_log /not/a/log;\n\
                    \x20   proxy_temp_path /var/cache/proxy 1 2;\n\
                    \x20   fastcgi_temp_path fastcgi;\n\
                    \x20   server { client_body_temp_path /srv/body; }\n\
                    }\n";
        assert_eq!(
            into_scratch(conf, Path::new("/s")),
            "pid \"/s/1.pid\";\n\
             error_log \"/s/2.log\" warn;\n\
             events { proxy_temp_path events; }\n\
             http { client_body_temp_path \"/s/7.temp\"; uwsgi_temp_path \"/s/8.temp\"; scgi_temp_path \"/s/9.temp\";\n\
             \x20   access_log  \"/s/3.log\" main; # access_log /in/a/comment;\n\
             \x20   server { access_log off; location / {access_log \"/s/4.log\" cb; return 204;} }\n\
             \x20   log_format x 'access_log /in/a/string';\n\
             \x20   error_log logs/relative.log;\n\
             \x20   access_log syslog:server=127.0.0.1;\n\
             \x20   my_access_log /not/a/log;\n\
             \x20   proxy_temp_path \"/s/5.temp\" 1 2;\n\
             \x20   fastcgi_temp_path fastcgi;\n\
             \x20   server { client_body_temp_path \"/s/6.temp\"; }\n\
             }\n"
        );
    }

    #[test]
    fn words() {
        assert_eq!(word_len("/a/b;"), 4);
        assert_eq!(word_len("'a b' c"), 5);
        assert_eq!(word_len(r#""a \" b";"#), 8);
        assert_eq!(word_len("\"open"), 5);
    }
}
