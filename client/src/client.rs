//! The client: a backend and the deployment it talks to.

use crate::{
    backend::Backend,
    deployment::Deployment,
    error::DeploymentError,
    keys::ss58,
    registry::{AccessLog, Consents, Directory, Records},
    Error, Result,
};

/// Typed access to a deployed Custodia suite.
///
/// ```no_run
/// # async fn example() -> custodia_client::Result<()> {
/// use custodia_client::{Client, Deployment, Finality, NodeBackend, Signer};
/// let backend = NodeBackend::connect("ws://127.0.0.1:9944", Finality::Finalized).await?;
/// let deployment = Deployment::load("deployment.json".as_ref())?;
/// let client = Client::open(backend, deployment).await?;
/// let admins = client.directory().admins().query().await?;
/// # Ok(()) }
/// ```
pub struct Client<B> {
    backend: B,
    deployment: Deployment,
}

impl<B: Backend> Client<B> {
    /// A client without checks (the caller vouches for the deployment).
    pub fn new(backend: B, deployment: Deployment) -> Self {
        Self { backend, deployment }
    }

    /// A client, after checking that the backend is the deployment's chain, that each
    /// address holds the recorded code, and that the contracts are wired to each other (the
    /// same code deployed under another directory has the same code hash).
    pub async fn open(backend: B, deployment: Deployment) -> Result<Self> {
        deployment.check(&backend).await?;
        let client = Self::new(backend, deployment);
        client.check_wiring().await?;
        Ok(client)
    }

    /// Checks each registry's links against the deployment: records and consents and the
    /// access log ask the deployment's directory, consents asks its records, the access log
    /// its consents; and the records registry is attached to the directory (or its attach
    /// proposal is still pending).
    pub async fn check_wiring(&self) -> Result<()> {
        let d = &self.deployment;
        let links = [
            ("records", "directory", self.records().directory().query().await?, d.directory.address),
            ("consents", "directory", self.consents().directory().query().await?, d.directory.address),
            ("consents", "records", self.consents().records().query().await?, d.records.address),
            ("access_log", "directory", self.access_log().directory().query().await?, d.directory.address),
            ("access_log", "consents", self.access_log().consents().query().await?, d.consents.address),
        ];
        for (contract, field, found, expected) in links {
            if found != expected {
                return Err(Error::Deployment(DeploymentError::WrongWiring {
                    contract,
                    field,
                    expected: ss58(&expected),
                    found: ss58(&found),
                }));
            }
        }
        let attached = self.directory().dependents().query().await?.contains(&d.records.address);
        if !attached && d.attach_proposal.is_none() {
            return Err(Error::Deployment(DeploymentError::NotAttached { contract: "records" }));
        }
        Ok(())
    }

    /// The directory.
    pub fn directory(&self) -> Directory<'_, B> {
        Directory::new(self)
    }

    /// The records registry.
    pub fn records(&self) -> Records<'_, B> {
        Records::new(self)
    }

    /// The consents registry.
    pub fn consents(&self) -> Consents<'_, B> {
        Consents::new(self)
    }

    /// The access log.
    pub fn access_log(&self) -> AccessLog<'_, B> {
        AccessLog::new(self)
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The deployment.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }
}
