//! WASI sleeps that end with the plugin call: `wasi:clocks/monotonic-clock`'s
//! `subscribe-duration` and `subscribe-instant` (and `now`, the clock they count on) replaced by
//! ones that wake at the call's remaining time, or on Ctrl-C. After it wakes, the
//! plugin's next deadline check stops the call, so a blocking `sleep` in a plugin cannot
//! outlive its time limit. (wasmtime-wasi's own sleep blocks in the host where the epoch
//! deadline cannot reach it.) Owns only this one import.

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
            if now >= self.until || crate::process::cancelled() {
                return;
            }
            tokio::time::sleep((self.until - now).min(POLL)).await;
        }
    }
}

/// The plugin's monotonic clock: nanoseconds since the first reading in this process. Ours, not
/// wasmtime-wasi's, so `subscribe-instant` can tell how far away an instant is.
fn monotonic_now() -> u64 {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(std::time::Instant::now).elapsed().as_nanos() as u64
}

/// A sleep of `nanos`, woken at the call's remaining time or on Ctrl-C.
fn bounded(state: &mut PluginState, nanos: u64) -> wasmtime::Result<(Resource<DynPollable>,)> {
    // A moment past the remaining time, so the deadline check after it fires.
    let wait = Duration::from_nanos(nanos).min(state.remaining() + Duration::from_millis(20));
    let sleep = state.table.push(BoundedSleep { until: tokio::time::Instant::now() + wait })?;
    Ok((subscribe(&mut state.table, sleep)?,))
}

pub(super) fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap("now", |_store, (): ()| -> wasmtime::Result<(u64,)> { Ok((monotonic_now(),)) })?;
    clock.func_wrap("subscribe-duration", |mut store, (nanos,): (u64,)| bounded(store.data_mut(), nanos))?;
    clock.func_wrap("subscribe-instant", |mut store, (when,): (u64,)| {
        bounded(store.data_mut(), when.saturating_sub(monotonic_now()))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}
