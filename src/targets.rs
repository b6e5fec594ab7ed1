//! Which nodes a command acts on: names, MACs, hostlist ranges, groups, or all.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::cluster::{Cluster, Node};
use crate::mac::MacAddr;

/// The most names one hostlist expression may expand to.
const MAX_EXPANSION: usize = 1_000_000;

/// Targets that name no node, or are malformed: nothing is changed.
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct InvalidTargets {
    pub problems: Vec<String>,
}

/// What the command line selected.
#[derive(Debug, Clone, Default)]
pub struct Selection<'a> {
    pub names: &'a [String],
    pub groups: &'a [String],
    pub all: bool,
}

impl Selection<'_> {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.groups.is_empty() && !self.all
    }
}

/// The nodes `sel` names, in description order, each once.
pub fn resolve<'c>(
    cluster: &'c Cluster,
    sel: &Selection<'_>,
) -> Result<Vec<&'c Node>, InvalidTargets> {
    if sel.all {
        return Ok(cluster.nodes.iter().collect());
    }
    let by_name: HashMap<String, usize> = cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.to_ascii_lowercase(), i))
        .collect();
    let by_mac: HashMap<MacAddr, usize> = cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.mac, i))
        .collect();
    let mut chosen = vec![false; cluster.nodes.len()];
    let mut problems = Vec::new();

    for arg in sel.names {
        if let Some(mac) = mac_of(arg) {
            if let Some(&i) = by_mac.get(&mac) {
                chosen[i] = true;
            } else if let Some(r) = cluster.reservations.iter().find(|r| r.mac == mac) {
                problems.push(reservation(&format!(
                    "`{mac}` belongs to `{}`, which",
                    r.name
                )));
            } else {
                let spelled = if arg.eq_ignore_ascii_case(&mac.colon()) {
                    String::new()
                } else {
                    format!(" (`{arg}`)")
                };
                problems.push(format!(
                    "no node has MAC address `{mac}`{spelled}; `pxectl status` lists every node"
                ));
            }
            continue;
        }
        let names = match expand(arg) {
            Ok(names) => names,
            Err(e) => {
                problems.push(format!("target `{arg}`: {e}"));
                continue;
            }
        };
        let mut unknown = Vec::new();
        for name in names {
            match by_name.get(&name.to_ascii_lowercase()) {
                Some(&i) => chosen[i] = true,
                None => unknown.push(name),
            }
        }
        match unknown.as_slice() {
            [] => {}
            [one] if one == arg => problems.push(unknown_node(one, cluster)),
            many => problems.push(not_described(arg, many, &by_name)),
        }
    }
    for group in sel.groups {
        let mut any = false;
        for (i, n) in cluster.nodes.iter().enumerate() {
            if n.groups.iter().any(|g| g == group) {
                chosen[i] = true;
                any = true;
            }
        }
        if !any {
            let mut known: Vec<&str> = cluster
                .nodes
                .iter()
                .flat_map(|n| n.groups.iter().map(String::as_str))
                .collect();
            known.sort_unstable();
            known.dedup();
            let hint = match closest(group, known.iter().copied()) {
                s if !s.is_empty() => format!("; did you mean {s}?"),
                _ if known.is_empty() => "; no node has a group".to_string(),
                _ => String::new(),
            };
            problems.push(format!("no node is in group `{group}`{hint}"));
        }
    }
    if !problems.is_empty() {
        return Err(InvalidTargets { problems });
    }
    Ok(cluster
        .nodes
        .iter()
        .zip(chosen)
        .filter_map(|(n, c)| c.then_some(n))
        .collect())
}

/// That the names `arg` expands to are not described, with the zero-padded range when the
/// described names are padded.
fn not_described(arg: &str, names: &[String], by_name: &HashMap<String, usize>) -> String {
    let shown: Vec<String> = names.iter().take(5).map(|n| format!("`{n}`")).collect();
    let more = if names.len() > 5 {
        format!(" and {} more", names.len() - 5)
    } else {
        String::new()
    };
    let padded = (2..=6)
        .map(|width| zero_padded(arg, width))
        .find(|p| {
            expand(p).is_ok_and(|names| {
                names
                    .iter()
                    .all(|n| by_name.contains_key(&n.to_ascii_lowercase()))
            })
        })
        .map(|p| format!("; did you mean `{p}`?"))
        .unwrap_or_default();
    format!(
        "target `{arg}` names nodes that are not described: {}{more}{padded}",
        shown.join(", ")
    )
}

fn unknown_node(name: &str, cluster: &Cluster) -> String {
    if let Some(r) = cluster
        .reservations
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(name))
    {
        return reservation(&format!("`{}`", r.name));
    }
    let suggestions = closest(name, cluster.nodes.iter().map(|n| n.name.as_str()));
    if suggestions.is_empty() {
        format!("unknown node `{name}`; `pxectl status` lists every node")
    } else {
        format!("unknown node `{name}`; did you mean {suggestions}?")
    }
}

/// That `who` (a name in backticks, or a MAC's owner) is a reservation.
fn reservation(who: &str) -> String {
    format!("{who} is a DHCP reservation, not a node: it never PXE boots, so it has no boot profile to switch")
}

/// The MAC a target names: any spelling of the address, or a link's name as `ls pxelinux.cfg`
/// shows it.
pub fn mac_of(arg: &str) -> Option<MacAddr> {
    arg.parse::<MacAddr>()
        .ok()
        .or_else(|| MacAddr::from_pxelinux_name(&arg.to_ascii_lowercase()))
}

/// `expr` with every number inside brackets zero-padded to `width`: `n[1-3]` to `n[01-03]`.
fn zero_padded(expr: &str, width: usize) -> String {
    let mut out = String::with_capacity(expr.len() + 8);
    let (mut inside, mut digits) = (false, String::new());
    for c in expr.chars() {
        if inside && c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            let _ = write!(out, "{digits:0>width$}");
            digits.clear();
        }
        match c {
            '[' => inside = true,
            ']' => inside = false,
            _ => {}
        }
        out.push(c);
    }
    out.push_str(&digits);
    out
}

/// Up to three of `candidates` nearest to `name` by edit distance (the nearest only, within a
/// few edits), as `` `a`, `b` ``.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let limit = (name.len() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .map(|c| {
            (
                distance(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|&(d, _)| d <= limit)
        .collect();
    scored.sort_unstable();
    let best = scored.first().map_or(0, |&(d, _)| d);
    scored
        .iter()
        .take_while(|&&(d, _)| d == best)
        .take(3)
        .map(|(_, c)| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Expands a hostlist expression as HPC tools write it: `node[1-3,5]`, `rack[1-2]-n[01-16]`,
/// `a,b[1-2]` (commas outside brackets separate expressions). Zero-padded bounds keep their width.
pub fn expand(expr: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in split_top(expr)? {
        if part.is_empty() {
            return Err("has an empty name between commas".into());
        }
        let mut names = vec![String::new()];
        let mut rest = part;
        while !rest.is_empty() {
            match rest.find('[') {
                None => {
                    for n in &mut names {
                        n.push_str(rest);
                    }
                    rest = "";
                }
                Some(open) => {
                    let literal = &rest[..open];
                    let close = rest[open..].find(']').ok_or("has a `[` without `]`")? + open;
                    let choices = ranges(&rest[open + 1..close])?;
                    if names.len().saturating_mul(choices.len()) > MAX_EXPANSION {
                        return Err(format!("expands to more than {MAX_EXPANSION} names"));
                    }
                    names = names
                        .iter()
                        .flat_map(|n| choices.iter().map(move |c| format!("{n}{literal}{c}")))
                        .collect();
                    rest = &rest[close + 1..];
                }
            }
        }
        if names.iter().any(|n| n.contains(']')) {
            return Err("has a `]` without `[`".into());
        }
        if out.len() + names.len() > MAX_EXPANSION {
            return Err(format!("expands to more than {MAX_EXPANSION} names"));
        }
        out.extend(names);
    }
    Ok(out)
}

/// Splits on commas that are not inside brackets.
fn split_top(expr: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in expr.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&expr[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err("has unbalanced or nested brackets".into());
        }
    }
    if depth != 0 {
        return Err("has a `[` without `]`".into());
    }
    parts.push(&expr[start..]);
    Ok(parts)
}

/// `1-3,5,07-09` into its members, zero-padded like their lower bound.
fn ranges(spec: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in spec.split(',') {
        let (lo, hi) = item.split_once('-').unwrap_or((item, item));
        let bad =
            || format!("has `[{spec}]`: write numbers and ranges like `[1-3,5]` or `[01-16]`");
        if lo.is_empty()
            || hi.is_empty()
            || !lo.bytes().chain(hi.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let (a, b): (u64, u64) = (
            lo.parse().map_err(|_| bad())?,
            hi.parse().map_err(|_| bad())?,
        );
        if a > b {
            return Err(format!(
                "has the range `{item}`, whose start is after its end"
            ));
        }
        if (b - a).saturating_add(out.len() as u64) >= MAX_EXPANSION as u64 {
            return Err(format!("expands to more than {MAX_EXPANSION} names"));
        }
        let width = if lo.starts_with('0') { lo.len() } else { 0 };
        out.extend((a..=b).map(|n| format!("{n:0width$}")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_padding_rewrites_only_numbers_in_brackets() {
        assert_eq!(zero_padded("rack1-n[1-3,5]", 2), "rack1-n[01-03,05]");
        assert_eq!(zero_padded("n[8-10]x[2]", 3), "n[008-010]x[002]");
        assert_eq!(zero_padded("node7", 2), "node7");
    }

    #[test]
    fn expands_hostlists() {
        assert_eq!(
            expand("node[1-3,5]").unwrap(),
            ["node1", "node2", "node3", "node5"]
        );
        assert_eq!(
            expand("rack[1-2]-n[01-03]").unwrap(),
            [
                "rack1-n01",
                "rack1-n02",
                "rack1-n03",
                "rack2-n01",
                "rack2-n02",
                "rack2-n03"
            ]
        );
        assert_eq!(expand("node3").unwrap(), ["node3"]);
        assert_eq!(expand("a,b[8-10]").unwrap(), ["a", "b8", "b9", "b10"]);
        assert_eq!(expand("n[098-100]").unwrap(), ["n098", "n099", "n100"]);
    }

    #[test]
    fn refuses_malformed_hostlists() {
        for bad in [
            "node[1-3",
            "node1-3]",
            "node[3-1]",
            "node[a-b]",
            "node[]",
            "node[[1]]",
            "a,,b",
            "node[1-]",
            "n[0-99999999999]",
            "n[0-999999,0-999999]",
            "a[0-999999],b[0-999999]",
        ] {
            assert!(expand(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("node3", "node3"), 0);
        assert_eq!(distance("nod3", "node3"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(
            closest("nod3", ["node3", "node4", "switch"].into_iter()),
            "`node3`"
        );
        assert_eq!(
            closest("node", ["node3", "node4", "switch"].into_iter()),
            "`node3`, `node4`"
        );
        assert_eq!(closest("zzzzzz", ["node3"].into_iter()), "");
    }
}
