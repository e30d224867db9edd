//! The client: a backend and the deployment it talks to.

use crate::{
    backend::Backend,
    deployment::Deployment,
    registry::{AccessLog, Consents, Directory, Records},
    Result,
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

    /// A client, after checking that the backend is the deployment's chain and that each
    /// address holds the recorded code.
    pub async fn open(backend: B, deployment: Deployment) -> Result<Self> {
        deployment.check(&backend).await?;
        Ok(Self::new(backend, deployment))
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
