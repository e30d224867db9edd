//! The deployment file on any bytes, as `Deployment::load` reads it after reading the file: a
//! deployment or a `serde_json` error (the client's `DeploymentError::Malformed`), never a
//! panic; a deployment it reads writes out as text that reads back as the same deployment.
#![no_main]

use custodia_client::Deployment;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(deployment) = Deployment::parse(text) else { return };
    let again = Deployment::parse(&deployment.to_text()).expect("a written deployment file reads back");
    assert_eq!(again, deployment, "written then read, a deployment is the same");
});
