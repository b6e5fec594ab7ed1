//! The few settings pxectl models, read from a hand-made nginx.conf: the first server block's
//! `listen`, `server_name`, document root and `autoindex`, and `keepalive_timeout`.

/// What nginx.conf says, each setting as found (none when it does not say).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Nginx {
    /// `listen`'s address part and port, and whether it is the `default_server`.
    pub listen: Option<(Option<String>, u16, bool)>,
    pub server_names: Vec<String>,
    /// `location /`'s `root`, else the server's.
    pub root: Option<String>,
    pub autoindex: Option<bool>,
    pub keepalive_timeout: Option<u32>,
}

/// Reads `text`; settings it cannot read are left unset (the round trip then tells).
pub fn parse(text: &str) -> Nginx {
    let mut n = Nginx::default();
    let mut blocks: Vec<Vec<String>> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut servers = 0;
    let mut server_root = None;
    for token in tokens(text) {
        match token.as_str() {
            "{" => {
                if words.first().map(String::as_str) == Some("server") {
                    servers += 1;
                }
                blocks.push(std::mem::take(&mut words));
            }
            "}" => {
                blocks.pop();
                words.clear();
            }
            ";" => {
                let in_first_server = servers == 1 && blocks.iter().any(|b| b[0] == "server");
                let in_root_location = blocks
                    .last()
                    .is_some_and(|b| b.len() == 2 && b[0] == "location" && b[1] == "/");
                statement(
                    &mut n,
                    &words,
                    in_first_server,
                    in_root_location,
                    &mut server_root,
                );
                words.clear();
            }
            _ => words.push(token),
        }
    }
    n.root = n.root.or(server_root);
    n
}

fn statement(
    n: &mut Nginx,
    words: &[String],
    in_server: bool,
    in_root_location: bool,
    server_root: &mut Option<String>,
) {
    let Some((name, args)) = words.split_first() else {
        return;
    };
    match (name.as_str(), args) {
        ("keepalive_timeout", [t]) if n.keepalive_timeout.is_none() => {
            n.keepalive_timeout = t.trim_end_matches('s').parse().ok();
        }
        ("listen", [addr, flags @ ..]) if in_server && n.listen.is_none() => {
            let (host, port) = match addr.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(':') => {
                    (Some(h.trim_matches(['[', ']']).to_string()), p)
                }
                _ => (None, addr.as_str()),
            };
            if let Ok(port) = port.parse() {
                n.listen = Some((host, port, flags.iter().any(|f| f == "default_server")));
            }
        }
        ("server_name", names) if in_server && n.server_names.is_empty() => {
            n.server_names = names.to_vec();
        }
        ("root", [root]) if in_server && in_root_location => n.root = Some(root.clone()),
        ("root", [root]) if in_server && server_root.is_none() => *server_root = Some(root.clone()),
        ("autoindex", [on]) if in_server && in_root_location => {
            n.autoindex = Some(on == "on");
        }
        _ => {}
    }
}

/// Words, `{`, `}` and `;`, comments left out.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut word = String::new();
        for c in line.chars() {
            if c.is_whitespace() || matches!(c, '{' | '}' | ';') {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                if !c.is_whitespace() {
                    out.push(c.to_string());
                }
            } else {
                word.push(c);
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reference_server_block() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/portacluster/etc/nginx/nginx.conf"
        ))
        .unwrap();
        assert_eq!(
            parse(&text),
            Nginx {
                listen: Some((None, 80, true)),
                server_names: [
                    "node0.pc.datastax.com",
                    "node0",
                    "localhost",
                    "192.168.10.10"
                ]
                .map(String::from)
                .to_vec(),
                root: Some("/srv/public".into()),
                autoindex: Some(true),
                keepalive_timeout: Some(0),
            }
        );
    }

    #[test]
    fn an_address_in_listen_and_a_server_root() {
        let n = parse("http { server { listen 10.0.0.1:8080; # here\n root /var/www; } }");
        assert_eq!(n.listen, Some((Some("10.0.0.1".into()), 8080, false)));
        assert_eq!(n.root.as_deref(), Some("/var/www"));
        assert_eq!(n.autoindex, None);
    }
}
