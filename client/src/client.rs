//! The client: a backend, the deployment it talks to, and the local store.

use crate::{
    backend::Backend,
    deployment::Deployment,
    registry::{AccessLog, Consents, Directory, Records},
    Result, Store,
};

/// Typed access to a deployed Custodia suite.
///
/// ```no_run
/// # async fn example() -> custodia_client::Result<()> {
/// use custodia_client::{Client, Deployment, SandboxBackend, Signer, Store};
/// let backend = SandboxBackend::open("chain.scale".as_ref())?;
/// let deployment = Deployment::load("deployment.json".as_ref())?;
/// let client = Client::open(backend, deployment, Store::open("client.redb".as_ref())?).await?;
/// let hospital = Signer::dev("alice")?;
/// let admins = client.directory().admins().query().await?;
/// # Ok(()) }
/// ```
pub struct Client<B> {
    backend: B,
    deployment: Deployment,
    store: Store,
}

impl<B: Backend> Client<B> {
    /// A client without checks (the caller vouches for the deployment).
    pub fn new(backend: B, deployment: Deployment, store: Store) -> Self {
        Self { backend, deployment, store }
    }

    /// A client, after checking that the backend is the deployment's chain, that each address
    /// holds the recorded code, and that the store belongs to this deployment.
    pub async fn open(backend: B, deployment: Deployment, store: Store) -> Result<Self> {
        deployment.check(&backend).await?;
        store.bind(deployment.chain, deployment.directory.address.as_ref())?;
        Ok(Self::new(backend, deployment, store))
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

    /// The local store.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
