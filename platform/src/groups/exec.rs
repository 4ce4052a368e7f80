//! Exec into a container (DESIGN.md §4): the checks that turn every reason it cannot run
//! into a clear refusal (no such container, a group or container not running) before the
//! runtime prepares the command in the container's sandbox.

use super::{Error, Groups, Result};
use crate::model::{GroupState, Scope};
use crate::runtime::exec::{Exec, ExecError};

impl Groups {
    /// Prepares `argv` to run in container `container` of group `name`, which must be
    /// running; the run starts when its client connects ([`Exec::start`]).
    pub async fn exec(
        &self,
        scope: &Scope,
        name: &str,
        container: &str,
        argv: Vec<String>,
    ) -> Result<Exec> {
        let g = self.find(scope, name).await?;
        let refused = |why: String| Error::ExecRefused {
            container: container.to_string(),
            group: name.to_string(),
            why,
        };
        let Some(c) = g.spec.containers.iter().find(|c| c.name == container) else {
            if g.spec.init_containers.iter().any(|c| c.name == container) {
                return Err(refused(
                    "it is an init container, which runs to its end before the others start".into(),
                ));
            }
            return Err(Error::ContainerNotFound {
                group: name.to_string(),
                container: container.to_string(),
            });
        };
        if g.state != GroupState::Running {
            let hint = match g.state {
                GroupState::Stopped => " (start it first)",
                GroupState::Pending => " (it is still starting; try again once it runs)",
                _ => " (its containers have ended; restart it first)",
            };
            return Err(refused(format!(
                "the container group is {}; exec needs it running{hint}",
                g.state.as_str()
            )));
        }
        let id = g.id;
        let rows = self.store.read(move |r| r.containers(id)).await?;
        let state = rows
            .iter()
            .find(|r| r.name == c.name)
            .map(|r| r.current.state.clone())
            .unwrap_or_default();
        if state != "Running" {
            return Err(refused(format!(
                "the container is {}; exec needs it running",
                if state.is_empty() {
                    "not started"
                } else {
                    &state
                }
            )));
        }
        self.runtime
            .exec(g.id, container, argv)
            .await
            .map_err(|e| match e {
                ExecError::NotRunning(_) => refused("the container is not running".into()),
                other => Error::Exec(other),
            })
    }
}
