//! WASI sleeps that end with the plugin call: `wasi:clocks/monotonic-clock.subscribe-duration`
//! replaced by one that wakes at the call's remaining time, or on Ctrl-C. After it wakes, the
//! plugin's next deadline check stops the call, so a blocking `sleep` in a plugin cannot
//! outlive its time limit. (wasmtime-wasi's own sleep blocks in the host where the epoch
//! deadline cannot reach it.) Owns only this one import.

use std::sync::atomic::Ordering;
use std::time::Duration;

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::{subscribe, DynPollable, Pollable};

use super::PluginState;

/// The clock interface as wasmtime-wasi defines it (imports of older 0.2 versions map to it).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";
/// How often a sleeping plugin looks at Ctrl-C.
const POLL: Duration = Duration::from_millis(50);

struct BoundedSleep {
    until: tokio::time::Instant,
}

#[async_trait::async_trait]
impl Pollable for BoundedSleep {
    async fn ready(&mut self) {
        loop {
            let now = tokio::time::Instant::now();
            if now >= self.until || crate::process::INTERRUPTED.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep((self.until - now).min(POLL)).await;
        }
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(MONOTONIC_CLOCK)?.func_wrap(
        "subscribe-duration",
        |mut store, (nanos,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            let state: &mut PluginState = store.data_mut();
            // A moment past the remaining time, so the deadline check after it fires.
            let wait = Duration::from_nanos(nanos).min(state.remaining() + Duration::from_millis(20));
            let sleep = state.table.push(BoundedSleep { until: tokio::time::Instant::now() + wait })?;
            Ok((subscribe(&mut state.table, sleep)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
