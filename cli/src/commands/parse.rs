//! Parsers of the values commands take.

use custodia_client::types::{
    access_log::BreakGlassReason,
    consents::Purpose,
    directory::{InstitutionKind, Role, Roles},
    records::{ErasureReason, Supersedence},
};
use custodia_services::Result;
use std::path::PathBuf;

fn choice<T: Copy>(text: &str, options: &[(&str, T)]) -> std::result::Result<T, String> {
    options
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("expected one of: {}", options.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")))
}

pub fn kind(text: &str) -> std::result::Result<InstitutionKind, String> {
    use InstitutionKind::*;
    choice(
        text,
        &[
            ("hospital", Hospital),
            ("laboratory", Laboratory),
            ("clinic", Clinic),
            ("payer", Payer),
            ("audit-body", AuditBody),
            ("other", Other),
        ],
    )
}

pub fn roles(text: &str) -> std::result::Result<Roles, String> {
    let roles = text
        .split(',')
        .map(|r| {
            choice(
                r.trim(),
                &[("custodian", Role::Custodian), ("accessor", Role::Accessor), ("auditor", Role::Auditor)],
            )
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Roles::of(&roles))
}

pub fn how(text: &str) -> std::result::Result<Supersedence, String> {
    use Supersedence::*;
    choice(text, &[("replaces", Replaces), ("amends", Amends), ("corrects", Corrects), ("transforms", Transforms)])
}

pub fn reason(text: &str) -> std::result::Result<ErasureReason, String> {
    use ErasureReason::*;
    choice(
        text,
        &[
            ("patient-request", PatientRequest),
            ("entered-in-error", EnteredInError),
            ("legal-order", LegalOrder),
            ("retention-expired", RetentionExpired),
            ("other", Other),
        ],
    )
}

pub fn purpose(text: &str) -> std::result::Result<Purpose, String> {
    use Purpose::*;
    // HL7 v3 PurposeOfUse codes and our names.
    choice(
        text,
        &[
            ("treatment", Treatment),
            ("TREAT", Treatment),
            ("emergency", EmergencyTreatment),
            ("ETREAT", EmergencyTreatment),
            ("payment", Payment),
            ("HPAYMT", Payment),
            ("operations", Operations),
            ("HOPERAT", Operations),
            ("research", Research),
            ("HRESCH", Research),
            ("public-health", PublicHealth),
            ("PUBHLTH", PublicHealth),
            ("patient-request", PatientRequest),
            ("PATRQT", PatientRequest),
            ("legal", Legal),
            ("HLEGAL", Legal),
        ],
    )
}

pub fn break_glass(text: &str) -> std::result::Result<BreakGlassReason, String> {
    use BreakGlassReason::*;
    choice(
        text,
        &[
            ("life-threatening", LifeThreatening),
            ("incapacitated", PatientIncapacitated),
            ("urgent-care", UrgentCare),
            ("legal-obligation", LegalObligation),
        ],
    )
}

pub fn read(path: &PathBuf) -> Result<Vec<u8>> {
    Ok(std::fs::read(path).map_err(|e| custodia_client::Error::io(path, e))?)
}
