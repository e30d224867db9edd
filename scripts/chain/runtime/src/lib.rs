//! The Wasm blob of `contracts-node-runtime` 0.42.0: re-exporting the no_std runtime crate
//! links in its `#[no_mangle]` runtime-API entry points (`Core_version`, `Metadata_metadata`,
//! `GenesisBuilder_build_state`, ...), as substrate-wasm-builder's generated wrapper does.
#![no_std]
pub use contracts_node_runtime::*;
