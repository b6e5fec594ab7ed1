//! One module per subcommand: each turns its arguments into a request, calls the domain
//! modules and prints.

mod completions;
mod import;
mod log;
mod man;
mod render;
mod status;
mod switch;
mod validate;
mod watch;

pub use completions::completions;
pub use import::import;
pub use log::log;
pub use man::man;
pub use render::{apply, reload, render};
pub use status::status;
pub use switch::{switch, SwitchRequest};
pub use validate::validate;
pub use watch::watch;

use anyhow::Result;

use crate::cli::Settings;
use crate::cluster::Cluster;
use crate::layout::Layout;
use crate::plan::{self, Plan};
use crate::templates::{self, Templates};

/// The checked description and where its files are on this machine.
pub(crate) struct Loaded {
    pub cluster: Cluster,
    pub layout: Layout,
}

/// Reads and checks the description; maps its paths under `--root`.
pub(crate) fn load(settings: &Settings) -> Result<Loaded> {
    let cluster = crate::description::from_file(&settings.config)?;
    let layout = Layout::new(&cluster, settings.root.as_deref());
    Ok(Loaded { cluster, layout })
}

impl Loaded {
    /// The templates `--templates` or the description names (the built-in ones by default).
    pub(crate) fn templates(&self, settings: &Settings) -> Result<Templates> {
        let dir = settings
            .templates
            .as_deref()
            .or(self.cluster.templates.as_deref());
        templates::check_dir(dir)?;
        Templates::load(dir)
    }

    /// Renders the description into a plan: the pure half of every command.
    pub(crate) fn plan(&self, settings: &Settings) -> Result<Plan> {
        plan::build(&self.cluster, &self.layout, &self.templates(settings)?)
    }
}
