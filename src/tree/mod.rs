//! The output tree on disk: reading it ([`scan`]), judging a node's entry ([`link`]),
//! comparing it with a plan ([`compare`]) and changing it ([`apply`]). No other module
//! compares the disk with the description.

mod apply;
mod compare;
mod link;
mod scan;

pub use apply::{apply, Applied, NodeLinkChange};
pub use compare::{compare, Change, Comparison, Finding, NodeLink, Old, WRITTEN};
pub use link::{is_plain_name, LinkState};
pub use scan::{remove_temps, scan, sweep, Entry, Found, Listing};
