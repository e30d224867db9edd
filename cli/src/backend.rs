//! The chain a command runs on, chosen at run time: the embedded sandbox chain or a node.

use custodia_client::{
    backend::{Backend, BlockEvent, DryRun, Gas, Hash, Inclusion, Instantiated, Instantiation, Measured},
    NodeBackend, Result, Signer,
};
use custodia_sandbox::SandboxBackend;
use ink::primitives::AccountId;

/// The embedded sandbox chain or a node.
pub enum AnyBackend {
    /// The embedded chain.
    Sandbox(Box<SandboxBackend>),
    /// A node over JSON-RPC.
    Node(NodeBackend),
}

macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            AnyBackend::Sandbox(backend) => backend.$method($($arg),*).await,
            AnyBackend::Node(backend) => backend.$method($($arg),*).await,
        }
    };
}

impl Backend for AnyBackend {
    async fn genesis(&self) -> Result<Hash> {
        delegate!(self.genesis())
    }

    async fn block_number(&self) -> Result<u32> {
        delegate!(self.block_number())
    }

    async fn now(&self) -> Result<u64> {
        delegate!(self.now())
    }

    async fn block_time(&self, block: u32) -> Result<u64> {
        delegate!(self.block_time(block))
    }

    async fn dry_run(&self, origin: AccountId, contract: AccountId, input: &[u8]) -> Result<DryRun> {
        delegate!(self.dry_run(origin, contract, input))
    }

    async fn submit(
        &self,
        signer: &Signer,
        contract: AccountId,
        input: Vec<u8>,
        gas_limit: Gas,
        storage_deposit_limit: Option<u128>,
    ) -> Result<Inclusion> {
        delegate!(self.submit(signer, contract, input, gas_limit, storage_deposit_limit))
    }

    async fn submit_unestimated(
        &self,
        signer: &Signer,
        contract: AccountId,
        input: &[u8],
    ) -> Result<Option<(Inclusion, Measured)>> {
        delegate!(self.submit_unestimated(signer, contract, input))
    }

    async fn instantiator(&self, deployer: &Signer) -> Result<AccountId> {
        delegate!(self.instantiator(deployer))
    }

    async fn instantiate(
        &self,
        deployer: &Signer,
        approvers: &[Signer],
        batch: Vec<Instantiation>,
    ) -> Result<Vec<Instantiated>> {
        delegate!(self.instantiate(deployer, approvers, batch))
    }

    async fn code_hash(&self, address: AccountId) -> Result<Option<Hash>> {
        delegate!(self.code_hash(address))
    }

    async fn events(&self, contract: AccountId, from: u32, to: u32) -> Result<Vec<BlockEvent>> {
        delegate!(self.events(contract, from, to))
    }

    async fn fund(&self, faucet: &Signer, account: AccountId, amount: u128) -> Result<()> {
        delegate!(self.fund(faucet, account, amount))
    }
}

impl AnyBackend {
    /// Lets `ms` milliseconds pass before the next block on the embedded chain (see
    /// [`SandboxBackend::let_time_pass`]); `None` on a node, whose clock is the world's.
    pub fn let_time_pass(&self, ms: u64) -> Option<Result<()>> {
        match self {
            AnyBackend::Sandbox(backend) => Some(backend.let_time_pass(ms)),
            AnyBackend::Node(_) => None,
        }
    }
}
