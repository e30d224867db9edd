//! The node's service: the client over the chain's database, the transaction pool, networking
//! (libp2p; GRANDPA's gossip; warp sync from GRANDPA proofs), offchain workers (node
//! authorization tells the network which peers are the members'), Aura authoring where the
//! keystore holds an Aura key, and the GRANDPA voter. No telemetry: a consortium's nodes report
//! to nobody outside it.

use custodia_runtime::{opaque::Block, RuntimeApi};
use futures::FutureExt;
use sc_client_api::{Backend as _, BlockBackend};
use sc_consensus_aura::{ImportQueueParams, SlotProportion, StartAuraParams};
use sc_consensus_grandpa::SharedVoterState;
use sc_network::NetworkBackend;
use sc_service::{error::Error as ServiceError, Configuration, TaskManager, WarpSyncConfig};
use sc_transaction_pool_api::OffchainTransactionPoolFactory;
use sp_consensus_aura::sr25519::AuthorityPair as AuraPair;
use sp_runtime::traits::Block as BlockT;
use std::{sync::Arc, time::Duration};

type HostFunctions = sp_io::SubstrateHostFunctions;
type FullClient = sc_service::TFullClient<Block, RuntimeApi, sc_executor::WasmExecutor<HostFunctions>>;
type Network = sc_network::NetworkWorker<Block, <Block as BlockT>::Hash>;

/// Blocks between the GRANDPA justifications a node keeps (what warp sync and light clients
/// start from).
const JUSTIFICATION_PERIOD: u32 = 512;

/// The inherent data of a block at `slot_duration`: the wall-clock timestamp and its slot.
fn inherent_data(
    slot_duration: sp_consensus_aura::SlotDuration,
) -> (sp_consensus_aura::inherents::InherentDataProvider, sp_timestamp::InherentDataProvider) {
    let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
    let slot =
        sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(*timestamp, slot_duration);
    (slot, timestamp)
}

/// Builds and starts a full node (a validator where `--validator` and the keystore say so).
pub fn new_full(config: Configuration) -> Result<TaskManager, ServiceError> {
    let executor = sc_service::new_wasm_executor::<HostFunctions>(&config.executor);
    let (client, backend, keystore_container, mut task_manager) =
        sc_service::new_full_parts::<Block, RuntimeApi, _>(&config, None, executor)?;
    let client: Arc<FullClient> = Arc::new(client);
    let select_chain = sc_consensus::LongestChain::new(backend.clone());
    let transaction_pool = sc_transaction_pool::BasicPool::new_full(
        config.transaction_pool.clone(),
        config.role.is_authority().into(),
        config.prometheus_registry(),
        task_manager.spawn_essential_handle(),
        client.clone(),
    );

    // Blocks are imported through GRANDPA (which tracks authority set changes) after Aura's
    // checks of their seal and slot.
    let (grandpa_block_import, grandpa_link) =
        sc_consensus_grandpa::block_import(client.clone(), JUSTIFICATION_PERIOD, &client, select_chain.clone(), None)?;
    let slot_duration = sc_consensus_aura::slot_duration(&*client)?;
    let import_queue = sc_consensus_aura::import_queue::<AuraPair, _, _, _, _, _>(ImportQueueParams {
        block_import: grandpa_block_import.clone(),
        justification_import: Some(Box::new(grandpa_block_import.clone())),
        client: client.clone(),
        create_inherent_data_providers: move |_, ()| async move { Ok(inherent_data(slot_duration)) },
        spawner: &task_manager.spawn_essential_handle(),
        registry: config.prometheus_registry(),
        check_for_equivocation: Default::default(),
        telemetry: None,
        compatibility_mode: Default::default(),
    })?;

    let mut net_config = sc_network::config::FullNetworkConfiguration::<_, _, Network>::new(
        &config.network,
        config.prometheus_registry().cloned(),
    );
    let metrics = Network::register_notification_metrics(config.prometheus_registry());
    let genesis = client.block_hash(0)?.ok_or_else(|| ServiceError::Other("no genesis block".into()))?;
    let grandpa_protocol = sc_consensus_grandpa::protocol_standard_name(&genesis, &config.chain_spec);
    let (grandpa_protocol_config, grandpa_notifications) = sc_consensus_grandpa::grandpa_peers_set_config::<_, Network>(
        grandpa_protocol.clone(),
        metrics.clone(),
        net_config.peer_store_handle(),
    );
    net_config.add_notification_protocol(grandpa_protocol_config);
    let warp_sync = Arc::new(sc_consensus_grandpa::warp_proof::NetworkProvider::new(
        backend.clone(),
        grandpa_link.shared_authority_set().clone(),
        Vec::new(),
    ));
    let (network, system_rpc_tx, tx_handler_controller, network_starter, sync_service) =
        sc_service::build_network(sc_service::BuildNetworkParams {
            config: &config,
            net_config,
            client: client.clone(),
            transaction_pool: transaction_pool.clone(),
            spawn_handle: task_manager.spawn_handle(),
            import_queue,
            block_announce_validator_builder: None,
            warp_sync_config: Some(WarpSyncConfig::WithProvider(warp_sync)),
            block_relay: None,
            metrics,
        })?;

    if config.offchain_worker.enabled {
        let workers = sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
            runtime_api_provider: client.clone(),
            is_validator: config.role.is_authority(),
            keystore: Some(keystore_container.keystore()),
            offchain_db: backend.offchain_storage(),
            transaction_pool: Some(OffchainTransactionPoolFactory::new(transaction_pool.clone())),
            network_provider: Arc::new(network.clone()),
            enable_http_requests: false,
            custom_extensions: |_| vec![],
        });
        task_manager.spawn_handle().spawn(
            "offchain-workers-runner",
            "offchain-worker",
            workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
        );
    }

    let role = config.role;
    let force_authoring = config.force_authoring;
    let name = config.network.node_name.clone();
    let grandpa_enabled = !config.disable_grandpa;
    let prometheus_registry = config.prometheus_registry().cloned();
    let rpc_builder = {
        let (client, pool) = (client.clone(), transaction_pool.clone());
        Box::new(move |_| crate::rpc::create_full(client.clone(), pool.clone()).map_err(ServiceError::Application))
    };
    sc_service::spawn_tasks(sc_service::SpawnTasksParams {
        network: network.clone(),
        client: client.clone(),
        keystore: keystore_container.keystore(),
        task_manager: &mut task_manager,
        transaction_pool: transaction_pool.clone(),
        rpc_builder,
        backend,
        system_rpc_tx,
        tx_handler_controller,
        sync_service: sync_service.clone(),
        config,
        telemetry: None,
    })?;

    if role.is_authority() {
        let proposer_factory = sc_basic_authorship::ProposerFactory::new(
            task_manager.spawn_handle(),
            client.clone(),
            transaction_pool.clone(),
            prometheus_registry.as_ref(),
            None,
        );
        let aura = sc_consensus_aura::start_aura::<AuraPair, _, _, _, _, _, _, _, _, _, _>(StartAuraParams {
            slot_duration,
            client: client.clone(),
            select_chain,
            block_import: grandpa_block_import,
            proposer_factory,
            sync_oracle: sync_service.clone(),
            justification_sync_link: sync_service.clone(),
            create_inherent_data_providers: move |_, ()| async move { Ok(inherent_data(slot_duration)) },
            force_authoring,
            backoff_authoring_blocks: Option::<()>::None,
            keystore: keystore_container.keystore(),
            block_proposal_slot_portion: SlotProportion::new(2f32 / 3f32),
            max_block_proposal_slot_portion: None,
            telemetry: None,
            compatibility_mode: Default::default(),
        })?;
        task_manager.spawn_essential_handle().spawn_blocking("aura", Some("block-authoring"), aura);
    }

    if grandpa_enabled {
        let config = sc_consensus_grandpa::Config {
            gossip_duration: Duration::from_millis(333),
            justification_generation_period: JUSTIFICATION_PERIOD,
            name: Some(name),
            observer_enabled: false,
            keystore: role.is_authority().then(|| keystore_container.keystore()),
            local_role: role,
            telemetry: None,
            protocol_name: grandpa_protocol,
        };
        let voter = sc_consensus_grandpa::run_grandpa_voter(sc_consensus_grandpa::GrandpaParams {
            config,
            link: grandpa_link,
            network,
            sync: Arc::new(sync_service),
            notification_service: grandpa_notifications,
            voting_rule: sc_consensus_grandpa::VotingRulesBuilder::default().build(),
            prometheus_registry,
            shared_voter_state: SharedVoterState::empty(),
            telemetry: None,
            offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(transaction_pool),
        })?;
        task_manager.spawn_essential_handle().spawn_blocking("grandpa-voter", None, voter);
    }

    network_starter.start_network();
    Ok(task_manager)
}
