//! What every command needs: the state directory, the chain, the deployment, keys, output.

use crate::backend::AnyBackend;
use custodia_client::{
    error::KeyError,
    types::{directory::Role, CodeId, InstitutionId, PatientId, RecordId},
    verify::{parse_hash, CodeKey, Pseudonyms},
    Backend, Client, Deployment, Finality, NodeBackend, Signer,
};
use custodia_sandbox::SandboxBackend;
use custodia_services::{Error, Result, Store};
use ink::primitives::AccountId;
use std::path::PathBuf;

/// Options every command takes.
#[derive(clap::Args, Clone, Debug)]
pub struct Global {
    /// Directory of the local state: the embedded chain, the deployment file, the outbox and
    /// index, the pseudonym secret.
    #[arg(long, global = true, env = "CUSTODIA_STATE", default_value = ".custodia")]
    pub state: PathBuf,
    /// A node's WebSocket URL (e.g. ws://127.0.0.1:9944); without it, the embedded chain.
    #[arg(long, global = true, env = "CUSTODIA_NODE")]
    pub node: Option<String>,
    /// The key that signs: a development name (alice), a keystore file, or a secret URI.
    #[arg(long = "as", global = true, env = "CUSTODIA_KEY", value_name = "KEY")]
    pub key: Option<String>,
    /// Print JSON for machines instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

pub struct Context {
    pub global: Global,
}

impl Context {
    pub fn new(global: Global) -> Result<Self> {
        // Owner-only: it holds the salts (without which nobody can verify), the digests of what
        // was committed, the outbox and the pseudonym secret.
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&global.state).map_err(|e| custodia_client::Error::io(&global.state, e))?;
        Ok(Self { global })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.global.state.join(name)
    }

    pub fn deployment_path(&self) -> PathBuf {
        self.path("deployment.json")
    }

    /// The chain: `--node`, else the node the deployment was made on, else the embedded one.
    pub async fn backend(&self) -> Result<AnyBackend> {
        match self.node_url() {
            Some(url) => Ok(AnyBackend::Node(NodeBackend::connect(&url, Finality::Finalized).await?)),
            None => Ok(AnyBackend::Sandbox(Box::new(SandboxBackend::open(&self.path("chain.scale"))?))),
        }
    }

    /// The node's URL: `--node`, else the node the deployment was made on; `None` for the
    /// embedded chain.
    pub fn node_url(&self) -> Option<String> {
        match &self.global.node {
            Some(url) => Some(url.clone()),
            None => Deployment::load(&self.deployment_path()).ok().map(|d| d.endpoint).filter(|e| e.starts_with("ws")),
        }
    }

    pub fn endpoint(&self) -> String {
        self.global.node.clone().unwrap_or_else(|| "embedded".into())
    }

    /// The local store of the state directory, bound to `client`'s deployment.
    pub fn store(&self, client: &Client<AnyBackend>) -> Result<Store> {
        Store::open_for(&self.path("client.redb"), client.deployment())
    }

    /// A client for the deployment in the state directory, checked against the chain.
    pub async fn client(&self) -> Result<Client<AnyBackend>> {
        let deployment = Deployment::load(&self.deployment_path())?;
        let backend = self.backend().await?;
        if let (AnyBackend::Sandbox(sandbox), Some(spec)) = (&backend, &self.global.key) {
            // The embedded chain is a development chain: it funds whoever signs.
            let signer = Signer::resolve(spec)?;
            sandbox.fund(&signer, signer.account(), 1_000_000_000_000_000).await?;
        }
        Ok(Client::open(backend, deployment).await?)
    }

    pub fn signer(&self) -> Result<Signer> {
        match &self.global.key {
            Some(spec) => Ok(Signer::resolve(spec)?),
            None => Err(custodia_client::Error::Key(KeyError::Missing).into()),
        }
    }

    /// The institution's pseudonyms (`pseudonym.key`, created on first use), with the
    /// network's code key (`codes.key`) when the deployment names one: then it must be there.
    pub fn pseudonyms(&self) -> Result<Pseudonyms> {
        let pseudonyms = Pseudonyms::load_or_create(&self.path("pseudonym.key"))?;
        match Deployment::load(&self.deployment_path()).ok().and_then(|d| d.code_key) {
            Some(fingerprint) => Ok(pseudonyms.with_codes(CodeKey::load(&self.code_key_path(), fingerprint)?)),
            None => Ok(pseudonyms),
        }
    }

    /// The institution whose namespace local ids' record ids are in: this state directory's,
    /// kept in `institution.json` (for the deployment's directory) since a custodian's account
    /// first named records here, so that commands signed by an accessor's account, or by none,
    /// derive the custodian's ids. A custodian's account (`account`, else the signer) of another
    /// institution makes it its own, unless it succeeds the kept one (it took over the leaving
    /// custodian's installation, and goes on in its namespace).
    pub async fn institution(
        &self,
        client: &Client<AnyBackend>,
        account: Option<AccountId>,
    ) -> Result<Option<InstitutionId>> {
        let path = self.path("institution.json");
        let directory = custodia_client::keys::ss58(&client.deployment().directory.address);
        let kept = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .filter(|kept| kept["directory"] == directory.as_str())
            .and_then(|kept| kept["institution"].as_u64())
            .and_then(|n| InstitutionId::try_from(n).ok());
        let account = match account {
            Some(account) => Some(account),
            None if self.global.key.is_some() => Some(self.signer()?.account()),
            None => None,
        };
        let Some(account) = account else { return Ok(kept) };
        let membership = client.directory().membership(account).query().await?;
        let Some(signer) = membership.filter(|m| m.roles.contains(Role::Custodian)).map(|m| m.institution) else {
            return Ok(kept);
        };
        if let Some(kept) = kept {
            if kept == signer || client.directory().succeeds(signer, kept).query().await? {
                return Ok(Some(kept));
            }
        }
        let record = serde_json::json!({ "directory": directory, "institution": signer });
        std::fs::write(&path, format!("{record:#}\n")).map_err(|e| custodia_client::Error::io(&path, e))?;
        Ok(Some(signer))
    }

    /// The institution's pseudonyms ([`Context::pseudonyms`]) with record ids in its namespace
    /// ([`Context::institution`]; `account` is the one that will commit, if not the signer).
    pub async fn institution_pseudonyms(
        &self,
        client: &Client<AnyBackend>,
        account: Option<AccountId>,
    ) -> Result<Pseudonyms> {
        let pseudonyms = self.pseudonyms()?;
        Ok(match self.institution(client, account).await? {
            Some(institution) => pseudonyms.for_custodian(institution),
            None => pseudonyms,
        })
    }

    /// Where the network's code key is kept.
    pub fn code_key_path(&self) -> PathBuf {
        self.path("codes.key")
    }

    /// A patient: 0x-hex as given, anything else is a local id turned into its pseudonym.
    pub fn patient(&self, text: &str) -> Result<PatientId> {
        Ok(match text.starts_with("0x") {
            true => PatientId::new(parse_hash(text)?),
            false => self.pseudonyms()?.patient(text),
        })
    }

    /// A record: 0x-hex as given, anything else is a local id turned into its pseudonym, in the
    /// namespace of this state directory's institution ([`Context::institution`]).
    pub async fn record(&self, client: &Client<AnyBackend>, text: &str) -> Result<RecordId> {
        if text.starts_with("0x") {
            return Ok(RecordId::new(parse_hash(text)?));
        }
        match self.institution(client, None).await? {
            Some(institution) => Ok(self.pseudonyms()?.for_custodian(institution).record(text)),
            None => Err(Error::Input(format!(
                "{text} is a local id, whose record id is in its institution's namespace, and this state \
                 directory has no institution yet: name an institution's key with --as (or give the record's 0x id)"
            ))),
        }
    }

    pub fn code(&self, text: &str) -> Result<CodeId> {
        Ok(match text.starts_with("0x") {
            true => CodeId::new(parse_hash(text)?),
            false => self.pseudonyms()?.code(text),
        })
    }

    /// An account: SS58, 0x-hex, or the account of a key (development name, file, URI).
    pub fn account(&self, text: &str) -> Result<AccountId> {
        Ok(custodia_client::keys::parse_account(text).or_else(|_| Signer::resolve(text).map(|s| s.account()))?)
    }
}
