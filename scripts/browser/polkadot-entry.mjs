// What the explorer's page signs with, bundled for the browser by scripts/explorer-assets.sh
// (esbuild) and served by the explorer as /vendor/polkadot.js: the patient's key is made and
// used in the page and never leaves it.
export { ApiPromise, WsProvider } from "@polkadot/api";
export { Keyring } from "@polkadot/keyring";
export { cryptoWaitReady } from "@polkadot/util-crypto";
