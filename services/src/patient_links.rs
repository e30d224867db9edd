//! Patients known under the Custodia id they presented (issue 15 §3): a patient treated
//! elsewhere first shows their id (a QR code from their key or their custodian), the patient's
//! controller links this institution to it on chain, and this store records which local
//! patient it is, so that every record of them here is committed under that one id. The link
//! from the local id stays in this store: no local id goes on chain.

use crate::{Error, Result, Store};
use custodia_client::{
    types::PatientId,
    verify::{PatientLinks, Pseudonyms},
    Backend, Client, Signer,
};
use redb::{ReadableTable, TableDefinition, WriteTransaction};

/// The presented id of each linked local patient, by (source system, local id).
const LINKS: TableDefinition<(&str, &str), [u8; 32]> = TableDefinition::new("patient_links");

pub(crate) fn copy_tables(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<()> {
    crate::store::copy_table(from, to, LINKS)
}

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(LINKS)?;
    Ok(())
}

/// The links kept in `store`.
pub struct Links<'s> {
    store: &'s Store,
}

impl<'s> Links<'s> {
    /// The links kept in `store`.
    pub fn new(store: &'s Store) -> Self {
        Self { store }
    }

    /// Records that the local patient `local_id` of `source` is the patient `presented`, once
    /// the chain says the institution of `signer` keeps that patient's records (the patient's
    /// controller linked it, or it is their custodian). Refused if the local patient is
    /// already linked to another id, or if records were committed here under the id derived
    /// for them (they would be split across two identities: unlink nothing silently).
    pub async fn link<B: Backend>(
        &self,
        client: &Client<B>,
        signer: &Signer,
        pseudonyms: &Pseudonyms,
        (source, local_id): (&str, &str),
        presented: PatientId,
    ) -> Result<()> {
        let directory = client.directory();
        let Some(member) = directory.membership(signer.account()).query().await? else {
            return Err(Error::Input("link as an account of the institution that treats the patient (--as)".into()));
        };
        if !directory.keeps_patient(member.institution, presented).query().await? {
            return Err(Error::Input(format!(
                "institution #{} does not keep records of 0x{}: the patient's controller links it first \
                 (custodia patient link-institution)",
                member.institution,
                hex::encode(presented.as_bytes())
            )));
        }
        let derived = pseudonyms.for_source(source).patient(local_id);
        if derived != presented && directory.patient(derived).query().await?.is_some() {
            return Err(Error::Input(format!(
                "{local_id} is registered here under its own id already (0x{}): its records would be split",
                hex::encode(derived.as_bytes())
            )));
        }
        let tx = self.store.write()?;
        {
            let mut links = tx.open_table(LINKS)?;
            let known = links.get((source, local_id))?.map(|v| v.value());
            match known {
                Some(known) if known != *presented.as_bytes() => {
                    return Err(Error::Input(format!("{local_id} is linked to another id already")))
                }
                _ => {
                    links.insert((source, local_id), *presented.as_bytes())?;
                }
            }
        }
        Ok(tx.commit()?)
    }

    /// Links the patient of `document` to the Custodia id she presented, if the file records
    /// one (`Patient.identifier` of [`custodia_fhir::document::CUSTODIA_ID_SYSTEM`]), as
    /// [`Links::link`] does (the same checks; nothing if the link is there already). Returns
    /// the presented id. A file importer applies the links again afterwards
    /// ([`Links::apply`]), so that every resource of the file goes under it.
    pub async fn link_presented<B: Backend>(
        &self,
        client: &Client<B>,
        signer: &Signer,
        pseudonyms: &Pseudonyms,
        document: &custodia_fhir::document::Document,
    ) -> Result<Option<PatientId>> {
        let presented = document.patient.presented_id().map_err(|problem| {
            Error::from(custodia_fhir::FhirError { file: document.file.clone(), entry: None, problem })
        })?;
        let Some(presented) = presented else { return Ok(None) };
        let source = document.source.as_deref().unwrap_or(pseudonyms.source());
        let local_id = custodia_fhir::document::local_form(&document.patient.reference);
        if pseudonyms.for_source(source).patient(&local_id) != presented {
            self.link(client, signer, pseudonyms, (source, &local_id), presented).await?;
        }
        Ok(Some(presented))
    }

    /// Every link, for [`Pseudonyms::with_links`].
    pub fn all(&self) -> Result<PatientLinks> {
        let tx = self.store.read()?;
        let links = tx.open_table(LINKS)?;
        let mut all = PatientLinks::new();
        for row in links.iter()? {
            let (key, id) = row?;
            let (source, local_id) = key.value();
            all.insert((source.to_string(), local_id.to_string()), PatientId::new(id.value()));
        }
        Ok(all)
    }

    /// `pseudonyms` with this store's links applied.
    pub fn apply(&self, pseudonyms: Pseudonyms) -> Result<Pseudonyms> {
        Ok(pseudonyms.with_links(self.all()?))
    }
}
