//! One module per subcommand.

mod log;
mod render;
mod status;
mod switch;
mod validate;
mod watch;

pub use log::log;
pub use render::{reload, render};
pub use status::status;
pub use switch::{switch, Destination, Only};
pub use validate::validate;
pub use watch::watch;

use anyhow::Result;

use crate::cli::Settings;
use crate::cluster::Cluster;
use crate::plan::{self, Plan};
use crate::templates::{self, Templates};

/// Loads the description and renders it into a plan: the pure half of every command.
pub(crate) fn load_plan(settings: &Settings) -> Result<(Cluster, Plan)> {
    let (cluster, templates) = load(settings)?;
    let plan = plan::build(&cluster, &templates)?;
    Ok((cluster, plan))
}

/// Loads the description and the templates it (or `--templates`) names.
pub(crate) fn load(settings: &Settings) -> Result<(Cluster, Templates)> {
    let cluster = crate::description::from_file(&settings.config)?;
    let templates = templates_for(settings, &cluster)?;
    Ok((cluster, templates))
}

/// The templates `--templates` or the description names (the built-in ones by default).
pub(crate) fn templates_for(settings: &Settings, cluster: &Cluster) -> Result<Templates> {
    let dir = settings
        .templates
        .as_deref()
        .or(cluster.templates.as_deref());
    templates::check_dir(dir)?;
    Templates::load(dir)
}
