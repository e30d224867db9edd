//! Deploying the suite and the deployment file that later commands read.

use crate::{
    backend::{in_place, Backend, Hash, Instantiated, Instantiation},
    error::{DeploymentError, InclusionError},
    keys::{parse_account, ss58, Signer},
    verify::parse_hash,
    Error, Result,
};
use access_log::AccessLogRef;
use consents::ConsentsRef;
use directory::DirectoryRef;
use ink::primitives::AccountId;
use records::RecordsRef;
use scale::Encode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One deployed contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployed {
    /// Its address.
    #[serde(with = "as_ss58")]
    pub address: AccountId,
    /// The BLAKE2-256 hash of its code, checked against the chain when a client opens.
    #[serde(with = "as_hex")]
    pub code_hash: Hash,
}

/// Where the suite is: the deployment file (`deployment.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The chain's genesis hash.
    #[serde(with = "as_hex")]
    pub chain: Hash,
    /// How the chain was reached when deploying: `embedded` or a node URL.
    pub endpoint: String,
    /// The block of the first instantiation (indexers start reading events there).
    pub block: u32,
    /// The directory.
    pub directory: Deployed,
    /// The records registry.
    pub records: Deployed,
    /// The consents registry.
    pub consents: Deployed,
    /// The access log.
    pub access_log: Deployed,
    /// The governance proposal attaching the records registry to the directory, if it still
    /// needed approvals when the suite was deployed.
    pub attach_proposal: Option<u32>,
    /// The fingerprint of the network's code key ([`crate::verify::CodeKey`]), if the
    /// deployment's members derive codes with one (every deployment made since network-wide
    /// codes; `None` in older files, whose institutions each derive their own).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "as_hex_option")]
    pub code_key: Option<Hash>,
}

impl Deployment {
    /// Reads a deployment file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            Error::Deployment(DeploymentError::Unreadable { path: path.display().to_string(), source })
        })?;
        Self::parse(&text).map_err(|source| {
            Error::Deployment(DeploymentError::Malformed { path: path.display().to_string(), source })
        })
    }

    /// Reads the text of a deployment file (what [`Deployment::load`] does after reading it).
    pub fn parse(text: &str) -> std::result::Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The text of its deployment file.
    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).expect("a deployment serialises") + "\n"
    }

    /// Writes the deployment file.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_text()).map_err(|e| Error::io(path, e))
    }

    /// The four contracts with their names.
    pub fn contracts(&self) -> [(&'static str, &Deployed); 4] {
        [
            ("directory", &self.directory),
            ("records", &self.records),
            ("consents", &self.consents),
            ("access_log", &self.access_log),
        ]
    }

    /// Checks that the backend is the deployment's chain and that each address holds the
    /// recorded code.
    pub async fn check<B: Backend>(&self, backend: &B) -> Result<()> {
        let genesis = backend.genesis().await?;
        if genesis != self.chain {
            return Err(Error::Deployment(DeploymentError::WrongChain { expected: self.chain, found: genesis }));
        }
        for (contract, deployed) in self.contracts() {
            let address = ss58(&deployed.address);
            match backend.code_hash(deployed.address).await? {
                None => return Err(Error::Deployment(DeploymentError::NoContract { contract, address })),
                Some(found) if found != deployed.code_hash => {
                    return Err(Error::Deployment(DeploymentError::WrongCode {
                        contract,
                        address,
                        expected: deployed.code_hash,
                        found,
                    }))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Where the contract bundles (`<name>.wasm`) are read from.
#[derive(Clone, Debug)]
pub struct Bundles {
    dir: PathBuf,
}

impl Bundles {
    /// Bundles in `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$CUSTODIA_BUNDLES`, or the workspace's `target/bundles` (where the project's build
    /// puts them).
    pub fn from_env() -> Self {
        let dir = std::env::var_os("CUSTODIA_BUNDLES")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bundles"));
        Self { dir }
    }

    /// The directory the bundles are read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The Wasm of contract `name`.
    pub fn wasm(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.dir.join(format!("{name}.wasm"));
        std::fs::read(&path)
            .map_err(|source| Error::Deployment(DeploymentError::Bundle { path: path.display().to_string(), source }))
    }
}

/// Who governs a new deployment.
#[derive(Clone, Debug)]
pub struct Governance {
    /// The directory's admins.
    pub admins: Vec<AccountId>,
    /// Approvals a proposal needs.
    pub threshold: u32,
}

/// Uploads and instantiates the four contracts, wired together (records and consents read
/// the directory, consents reads records, the access log reads the directory and consents),
/// and proposes attaching the records registry to the directory (executed at once if the
/// deployer alone meets the threshold). `salt` makes the addresses unique on a chain.
///
/// Where a council governs code (the consortium runtime), the four instantiations are one
/// council motion: `deployer` (a member) proposes it and `approvers` (other members) carry it
/// ([`Backend::instantiate`]); elsewhere `approvers` are not needed. If they do not carry it,
/// the error names the open motion; once members have carried it, the same call (same salt)
/// finds the contracts in place and finishes the deployment.
pub async fn deploy<B: Backend>(
    backend: &B,
    deployer: &Signer,
    approvers: &[Signer],
    governance: &Governance,
    bundles: &Bundles,
    salt: &[u8],
    endpoint: &str,
) -> Result<Deployment> {
    let Governance { admins, threshold } = governance;
    if admins.is_empty() || *threshold == 0 || *threshold as usize > admins.len() {
        return Err(Error::Input(format!(
            "a threshold of {threshold} with {} admins: it must be between 1 and the number of admins",
            admins.len()
        )));
    }
    let instantiator = backend.instantiator(deployer).await?;
    let batch = suite(bundles, governance, salt, &instantiator)?;
    let expected = batch.iter().map(|i| i.address(&instantiator)).collect::<Vec<_>>();
    // A deployment whose council motion members carried after `deploy` reported it open,
    // resumed with the same salt, finds its contracts in place (its events are read from the
    // block it is resumed at: the constructors emit none).
    let done = match in_place(backend, &batch, &instantiator, backend.block_number().await?).await? {
        Ok(done) => done,
        Err(_) => backend.instantiate(deployer, approvers, batch).await?,
    };
    let [directory, records, consents, access_log] = <[Instantiated; 4]>::try_from(done).map_err(|done| {
        Error::Inclusion(InclusionError::Unexpected(format!("{} contracts instantiated, not 4", done.len())))
    })?;
    for (instantiated, expected) in [&directory, &records, &consents, &access_log].into_iter().zip(&expected) {
        if instantiated.address != *expected {
            return Err(Error::Inclusion(InclusionError::Unexpected(format!(
                "a contract went to {}, not to the address pallet-contracts derives ({})",
                ss58(&instantiated.address),
                ss58(expected)
            ))));
        }
    }
    let deployed = |i: &Instantiated| Deployed { address: i.address, code_hash: i.code_hash };
    let mut deployment = Deployment {
        chain: backend.genesis().await?,
        endpoint: endpoint.to_string(),
        block: directory.block,
        directory: deployed(&directory),
        records: deployed(&records),
        consents: deployed(&consents),
        access_log: deployed(&access_log),
        attach_proposal: None,
        code_key: None,
    };
    if admins.contains(&deployer.account()) {
        let client = crate::Client::new(backend, deployment.clone());
        let attach = custodia_types::directory::Action::Attach { contract: records.address };
        let proposal = client.directory().propose(attach).submit(deployer).await?.value;
        if *threshold == 1 {
            client.directory().execute(proposal).submit(deployer).await?;
        } else {
            deployment.attach_proposal = Some(proposal);
        }
    }
    Ok(deployment)
}

/// The suite's four instantiations, in order, each constructor given the addresses of those
/// before it (which follow from `instantiator`).
fn suite(
    bundles: &Bundles,
    governance: &Governance,
    salt: &[u8],
    instantiator: &AccountId,
) -> Result<Vec<Instantiation>> {
    macro_rules! input {
        ($constructor:expr) => {
            $constructor
                .code_hash(Default::default())
                .endowment(0)
                .salt_bytes(Vec::new())
                .params()
                .exec_input()
                .encode()
        };
    }
    let of = |name: &str, input: Vec<u8>| -> Result<Instantiation> {
        Ok(Instantiation { code: bundles.wasm(name)?, input, salt: [salt, name.as_bytes()].concat() })
    };
    let directory = of("directory", input!(DirectoryRef::new(governance.admins.clone(), governance.threshold)))?;
    let directory_at = directory.address(instantiator);
    let records = of("records", input!(RecordsRef::new(directory_at)))?;
    let records_at = records.address(instantiator);
    let consents = of("consents", input!(ConsentsRef::new(directory_at, records_at)))?;
    let consents_at = consents.address(instantiator);
    let access_log = of("access_log", input!(AccessLogRef::new(directory_at, consents_at)))?;
    Ok(vec![directory, records, consents, access_log])
}

mod as_ss58 {
    use super::*;

    pub fn serialize<S: serde::Serializer>(account: &AccountId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ss58(account))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<AccountId, D::Error> {
        let text = String::deserialize(d)?;
        parse_account(&text).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod as_hex {
    use super::*;

    pub fn serialize<S: serde::Serializer>(hash: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(hash)))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let text = String::deserialize(d)?;
        parse_hash(&text).map_err(serde::de::Error::custom)
    }
}

mod as_hex_option {
    use super::*;

    pub fn serialize<S: serde::Serializer>(hash: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
        match hash {
            Some(hash) => as_hex::serialize(hash, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Hash>, D::Error> {
        Option::<String>::deserialize(d)?.map(|text| parse_hash(&text).map_err(serde::de::Error::custom)).transpose()
    }
}
