//! Callbacks: parsing a line of the callback log and deciding what it may change.

use std::net::IpAddr;

use crate::cluster::{Cluster, Node, OnFailure};
use crate::output::escaped;

/// Which callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed,
}

impl Outcome {
    /// The word in the callback's path.
    pub fn word(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// One parsed callback line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub time: String,
    pub client: IpAddr,
    pub outcome: Outcome,
    pub node: String,
}

/// Parses a line of the callback log (`TIME ADDR "URI" STATUS`); `Err` says why it is not a callback.
pub fn parse(line: &[u8], prefix: &str) -> Result<Callback, String> {
    let line = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
    let Some([time, addr, uri, _status]) = super::words(line) else {
        return Err("not in pxectl's callback log format".into());
    };
    let client: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{}` is not a client address", escaped(addr)))?;
    let uri = uri
        .strip_prefix('"')
        .and_then(|u| u.strip_suffix('"'))
        .ok_or("the path is not quoted")?;
    let path = uri.split('?').next().unwrap_or_default();
    let rest = path
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| format!("`{}` is not under `{prefix}/`", escaped(path)))?;
    let (outcome, node) = if let Some(n) = rest.strip_prefix("done/") {
        (Outcome::Done, n)
    } else if let Some(n) = rest.strip_prefix("failed/") {
        (Outcome::Failed, n)
    } else {
        return Err(format!(
            "`{}` is neither `done/NODE` nor `failed/NODE`",
            escaped(path)
        ));
    };
    let plain = !node.is_empty()
        && node.len() <= 63
        && node.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !plain {
        return Err(format!("node name `{}` is not a host name", escaped(node)));
    }
    Ok(Callback {
        time: time.to_string(),
        client,
        outcome,
        node: node.to_string(),
    })
}

/// What a callback may do.
#[derive(Debug, Clone)]
pub enum Verdict<'c> {
    /// Switch `node` to `to`.
    Switch { node: &'c Node, to: String },
    /// A `failed` callback, left as configured: journal it, change nothing.
    Leave { node: &'c Node },
    /// Change nothing; say why.
    Ignore(String),
}

/// Whether a callback naming `name` is for `node` (host names compare without case).
pub fn is_for(node: &Node, name: &str) -> bool {
    node.name.eq_ignore_ascii_case(name)
}

/// Whether `client` may call back for `node`: from its fixed address, when it has one.
pub fn trusted(node: &Node, client: IpAddr) -> bool {
    node.ip.is_none_or(|ip| client == IpAddr::V4(ip))
}

/// Decides what `cb` may do, given the node it names (`node`, if described) and what the
/// node's link points at now (`current`). The trust model: the node must be described, on the
/// reimage profile, and, when it has a fixed address, call from it.
pub fn decide<'c>(
    cluster: &Cluster,
    cb: &Callback,
    node: Option<&'c Node>,
    current: Option<&str>,
) -> Verdict<'c> {
    let Some(node) = node else {
        return Verdict::Ignore(format!("no node is named `{}`", cb.node));
    };
    if let (false, Some(ip)) = (trusted(node, cb.client), node.ip) {
        return Verdict::Ignore(format!(
            "node `{}` has address {ip}, but the callback came from {}",
            node.name, cb.client
        ));
    }
    if current != Some(cluster.roles.reimage.as_str()) {
        return Verdict::Ignore(format!(
            "node `{}` is not reimaging (it boots `{}`)",
            node.name,
            current.unwrap_or("nothing")
        ));
    }
    match cb.outcome {
        Outcome::Done => Verdict::Switch {
            node,
            to: node.normal_profile.clone(),
        },
        Outcome::Failed => match (cluster.lifecycle.on_failure, &cluster.roles.rescue) {
            (OnFailure::Rescue, Some(rescue)) => Verdict::Switch {
                node,
                to: rescue.clone(),
            },
            _ => Verdict::Leave { node },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_callbacks_and_refuses_the_rest() {
        let ok = parse(
            br#"2026-11-25T12:00:00+00:00 10.0.0.5 "/pxectl/done/node3?x=1" 204"#,
            "/pxectl",
        )
        .unwrap();
        assert_eq!(ok.node, "node3");
        assert_eq!(ok.outcome, Outcome::Done);
        assert_eq!(ok.client, "10.0.0.5".parse::<IpAddr>().unwrap());
        assert_eq!(
            parse(br#"t ::1 "/pxectl/failed/n1" 204"#, "/pxectl")
                .unwrap()
                .outcome,
            Outcome::Failed
        );
        for bad in [
            &br#"t 10.0.0.5 "/pxectl/done/../../etc/passwd" 204"#[..],
            br#"t 10.0.0.5 "/pxectl/done/node3/extra" 204"#,
            br#"t 10.0.0.5 "/pxectl/done/" 204"#,
            br#"t 10.0.0.5 "/pxectl/reboot/node3" 204"#,
            br#"t 10.0.0.5 "/other/done/node3" 204"#,
            br#"t nonsense "/pxectl/done/node3" 204"#,
            br"t 10.0.0.5 /pxectl/done/node3 204",
            br#"t 10.0.0.5 "/pxectl/done/n\x22ode" 204"#,
            b"t 10.0.0.5 \"/pxectl/done/n\xffde\" 204",
            b"",
            b"garbage",
        ] {
            assert!(
                parse(bad, "/pxectl").is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
