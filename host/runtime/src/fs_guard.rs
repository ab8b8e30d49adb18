//! WASI file access outside the grant, refused and reported as a denial.
//!
//! wasmtime-wasi already confines a plugin's WASI filesystem to its preopens (one per granted
//! directory), but silently: a path outside every preopen never reaches the host (wasi-libc says
//! "No such file"), and a `..` or a symbolic link that climbs out of one, or a write to a
//! read-only one, comes back as a bare "Operation not permitted". So:
//!
//! * the plugin also gets `/` as a preopen of an empty private directory (the *root stand-in*),
//!   so every absolute path outside its grant reaches the host, which refuses it before touching
//!   anything;
//! * the path-taking methods of `wasi:filesystem/types` (`open-at`, `stat-at`, `rename-at` …) are
//!   shadowed by wrappers that call wasmtime-wasi's own implementation and, when it refuses with
//!   `not-permitted`, say why (and nothing when the host system refused, not the grant).
//!
//! Each refusal is reported like a refused spawn, once the call returns
//! ([`PluginState::defer_fs_denial`]), worded by the grant ([`CapabilityGranter::fs_denial`]). This module decides nothing: what may be reached is
//! still exactly the preopens and their permissions, enforced by wasmtime-wasi and cap-std.

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use devshell_plugin_kit::normalize_absolute;

use wasmtime::component::{ComponentNamedList, ComponentType, Lift, Linker, Lower, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::filesystem::types as wasi_fs;
use wasmtime_wasi::p2::bindings::sync::filesystem::preopens;
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{
    self as fs, DescriptorFlags, ErrorCode, HostDescriptor, OpenFlags,
};
use wasmtime_wasi::p2::FsResult;
use wasmtime_wasi::ResourceTable;

use super::grants::{strip_dir_prefix, FsAccess, FsRefusal};
use super::PluginState;

/// The filesystem interface as wasmtime-wasi defines it (imports of older 0.2 versions map to it).
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";
/// Linux's `PATH_MAX`: a longer path names nothing on the host.
const MAX_PATH_BYTES: usize = 4096;
/// Where the root stand-in is mounted in the plugin's view.
pub(crate) const ROOT: &str = "/";

/// The plugin's preopens, recognised by their open directory (which every copy of a preopen
/// descriptor shares), so a refused path can be named in full.
#[derive(Default)]
pub(crate) struct Preopens {
    dirs: Vec<Preopen>,
}

struct Preopen {
    dir: Arc<std::fs::File>,
    guest: String,
}

impl Preopens {
    /// Learn the preopens of a freshly built WASI context, and check that each granted one
    /// opened the very directory granted, by device and inode (a directory swapped for a
    /// symbolic link between the grant's check and the open is refused). Listing them puts descriptors in the table; they
    /// are taken out again, so the plugin's own listing starts from a clean table.
    pub(crate) fn learn(state: &mut PluginState) -> anyhow::Result<Preopens> {
        let listed = preopens::Host::get_directories(&mut state.filesystem())?;
        let mut dirs = Vec::with_capacity(listed.len());
        for (descriptor, guest) in listed {
            let Descriptor::Dir(dir) = state.table.delete(descriptor)? else { continue };
            let granted = state.granter.grant().dirs.iter().find(|d| d.guest == guest);
            if let Some(granted) = granted {
                let opened = dir.dir.metadata()?;
                anyhow::ensure!(
                    (opened.dev(), opened.ino()) == granted.identity,
                    "granted directory {} changed between the grant's check and its opening; start again",
                    granted.host.display()
                );
            }
            dirs.push(Preopen { dir: dir.dir, guest });
        }
        Ok(Preopens { dirs })
    }

    /// The preopen `rep` is a descriptor of, if it is one.
    fn of(&self, table: &ResourceTable, rep: u32) -> Option<&Preopen> {
        let Descriptor::Dir(dir) = descriptor(table, rep)? else { return None };
        self.dirs.iter().find(|p| Arc::ptr_eq(&p.dir, &dir.dir))
    }

    fn is_root_stand_in(&self, table: &ResourceTable, rep: u32) -> bool {
        self.of(table, rep).is_some_and(|p| p.guest == ROOT)
    }

    /// The granted directory (not the root stand-in) holding a normalized path.
    fn granted_holding(&self, path: &str) -> Option<&str> {
        self.dirs.iter().map(|p| p.guest.as_str()).find(|&dir| dir != ROOT && strip_dir_prefix(path, dir).is_some())
    }
}

fn descriptor(table: &ResourceTable, rep: u32) -> Option<&Descriptor> {
    table.get(&Resource::<Descriptor>::new_borrow(rep)).ok()
}

/// One path a filesystem call names: relative to the directory descriptor `dir`.
struct Target {
    dir: u32,
    path: String,
    access: FsAccess,
    /// What a symbolic link made at `path` would point to.
    link_to: Option<String>,
}

impl Target {
    fn new(dir: &Resource<Descriptor>, path: &str, access: FsAccess) -> Target {
        Target { dir: dir.rep(), path: path.to_string(), access, link_to: None }
    }

    fn linking_to(self, target: &str) -> Target {
        Target { link_to: Some(target.to_string()), ..self }
    }

    /// The path as the plugin spelled it from `/`, when its directory is a preopen (always so
    /// for the absolute paths of a program using wasi-libc, which resolves them against one).
    fn spelled(&self, preopens: &Preopens, table: &ResourceTable) -> Option<String> {
        let base = &preopens.of(table, self.dir)?.guest;
        Some(format!("{}/{}", base.trim_end_matches('/'), self.path))
    }

    fn display(&self, preopens: &Preopens, table: &ResourceTable) -> String {
        let spelled = self.spelled(preopens, table);
        spelled.and_then(|s| normalize_absolute(&s)).unwrap_or_else(|| format!("{} (below a directory it opened)", self.path))
    }

    /// A path that leaves its directory: outside the grant, or into a granted directory the
    /// long way round.
    fn leaving(&self, preopens: &Preopens, table: &ResourceTable) -> FsRefusal {
        let Some(spelled) = self.spelled(preopens, table) else {
            return FsRefusal::Escape { path: self.display(preopens, table), spelled: self.path.clone() };
        };
        let normalized = normalize_absolute(&spelled).unwrap_or_else(|| spelled.clone());
        match preopens.granted_holding(&normalized) {
            Some(dir) => FsRefusal::Roundabout { path: spelled, dir: dir.to_string() },
            None if normalized == spelled => FsRefusal::Outside { path: normalized },
            None => FsRefusal::Escape { path: normalized, spelled },
        }
    }

    /// Why wasmtime-wasi refused it with `not-permitted`; `None` when the host system did (an
    /// immutable file, a sticky directory), which is no denial of the grant.
    fn refusal(&self, preopens: &Preopens, table: &ResourceTable) -> Option<FsRefusal> {
        if self.path.starts_with('/') {
            return Some(FsRefusal::Absolute { path: self.path.clone() });
        }
        if climbs_out(&self.path) {
            return Some(self.leaving(preopens, table));
        }
        let read_only = matches!(descriptor(table, self.dir), Some(Descriptor::Dir(d)) if d.perms.write_not_permitted());
        if self.access == FsAccess::Write && read_only {
            let dir = preopens.of(table, self.dir).map(|p| p.guest.clone());
            return Some(FsRefusal::ReadOnly { path: self.display(preopens, table), dir });
        }
        if let Some(target) = self.link_to.as_ref().filter(|to| to.starts_with('/')) {
            return Some(FsRefusal::AbsoluteLink { path: self.display(preopens, table), target: target.clone() });
        }
        self.symlink_on_the_way(table).then(|| FsRefusal::LinkOutside { path: self.display(preopens, table) })
    }

    /// Whether the first symbolic link on the path (below its directory, which it does not
    /// climb out of) leads out of that directory, as cap-std refuses: absolute, or climbing
    /// above it. The walk stops at that link: the host follows none.
    fn symlink_on_the_way(&self, table: &ResourceTable) -> bool {
        let Some(Descriptor::Dir(dir)) = descriptor(table, self.dir) else { return false };
        // The descriptor's own directory, by its open file: no path the plugin could swap.
        let base = std::path::PathBuf::from(format!("/proc/self/fd/{}", dir.dir.as_raw_fd()));
        let mut walked = String::new();
        for part in self.path.split('/').filter(|p| !p.is_empty() && *p != ".") {
            let at = format!("{walked}{part}");
            match std::fs::symlink_metadata(base.join(&at)) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let Ok(target) = std::fs::read_link(base.join(&at)) else { return false };
                    let target = target.to_string_lossy();
                    return target.starts_with('/') || climbs_out(&format!("{walked}{target}"));
                }
                Ok(_) => walked = format!("{at}/"),
                Err(_) => return false,
            }
        }
        false
    }
}

/// Whether a relative path goes above its starting directory (`a/../..`).
fn climbs_out(path: &str) -> bool {
    let mut depth = 0i32;
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => depth -= 1,
            _ => depth += 1,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

fn open_access(oflags: OpenFlags, flags: DescriptorFlags) -> FsAccess {
    let writes = oflags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE)
        || flags.intersects(DescriptorFlags::WRITE | DescriptorFlags::MUTATE_DIRECTORY);
    if writes {
        FsAccess::Write
    } else if oflags.contains(OpenFlags::DIRECTORY) {
        FsAccess::ReadDir
    } else {
        FsAccess::Read
    }
}

/// Shadow one path-taking method: refuse paths through the root stand-in before wasmtime-wasi
/// sees them, run the rest through wasmtime-wasi, and report its `not-permitted` refusals.
fn guard<P, R>(
    linker: &mut Linker<PluginState>,
    method: &str,
    targets: fn(&P) -> Vec<Target>,
    call: fn(&mut WasiFilesystemCtxView<'_>, P) -> FsResult<R>,
) -> anyhow::Result<()>
where
    P: ComponentNamedList + Lift + Send + Sync + 'static,
    R: ComponentType + Lower + Send + Sync + 'static,
{
    let mut types = linker.instance(FILESYSTEM_TYPES)?;
    types.func_wrap(method, move |mut store, params: P| -> wasmtime::Result<(Result<R, ErrorCode>,)> {
        let state = store.data_mut();
        let targets = targets(&params);
        // No host path is longer; refused unrecorded, so a plugin cannot fill memory with them.
        if targets.iter().any(|t| t.path.len() > MAX_PATH_BYTES) {
            return Ok((Err(ErrorCode::NameTooLong),));
        }
        // Refusals are worded after the call (`PluginState::defer_fs_denial`): wording one looks
        // at the host's filesystem, whose timing the plugin must not be able to measure.
        if let Some(target) = targets.iter().find(|t| state.preopens.is_root_stand_in(&state.table, t.dir)) {
            let refusal = target.leaving(&state.preopens, &state.table);
            state.defer_fs_denial(target.access, refusal);
            return Ok((Err(ErrorCode::NotPermitted),));
        }
        let error = match call(&mut state.filesystem(), params) {
            Ok(value) => return Ok((Ok(value),)),
            Err(error) => fs::Host::convert_error_code(&mut state.filesystem(), error)?,
        };
        if error == ErrorCode::NotPermitted {
            let refused = targets.iter().find_map(|t| Some((t.access, t.refusal(&state.preopens, &state.table)?)));
            if let Some((access, refusal)) = refused {
                state.defer_fs_denial(access, refusal);
            }
        }
        Ok((Err(error),))
    })?;
    Ok(())
}

/// Shadow every path-taking method of `wasi:filesystem/types` (see the module doc).
pub(super) fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    use FsAccess::{Read, Write};
    type D = Resource<Descriptor>;
    linker.allow_shadowing(true);
    guard(
        linker,
        "[method]descriptor.open-at",
        |(d, _, path, oflags, flags): &(D, fs::PathFlags, String, OpenFlags, DescriptorFlags)| {
            vec![Target::new(d, path, open_access(*oflags, *flags))]
        },
        |v, (d, path_flags, path, oflags, flags)| v.open_at(d, path_flags, path, oflags, flags),
    )?;
    guard(
        linker,
        "[method]descriptor.stat-at",
        |(d, _, path): &(D, fs::PathFlags, String)| vec![Target::new(d, path, Read)],
        |v, (d, path_flags, path)| v.stat_at(d, path_flags, path),
    )?;
    guard(
        linker,
        "[method]descriptor.metadata-hash-at",
        |(d, _, path): &(D, fs::PathFlags, String)| vec![Target::new(d, path, Read)],
        |v, (d, path_flags, path)| v.metadata_hash_at(d, path_flags, path),
    )?;
    guard(
        linker,
        "[method]descriptor.readlink-at",
        |(d, path): &(D, String)| vec![Target::new(d, path, Read)],
        |v, (d, path)| v.readlink_at(d, path),
    )?;
    guard(
        linker,
        "[method]descriptor.create-directory-at",
        |(d, path): &(D, String)| vec![Target::new(d, path, Write)],
        |v, (d, path)| {
            let dir = Resource::new_borrow(d.rep());
            v.create_directory_at(d, path.clone()).or_else(|error| {
                // As on a read-only mount, a directory that is there already `exist`s (which
                // `create_dir_all` counts on); only creating one is refused.
                let refused = matches!(error.downcast_ref(), Some(wasi_fs::ErrorCode::NotPermitted));
                match refused && v.stat_at(dir, fs::PathFlags::empty(), path).is_ok() {
                    true => Err(wasi_fs::ErrorCode::Exist.into()),
                    false => Err(error),
                }
            })
        },
    )?;
    guard(
        linker,
        "[method]descriptor.remove-directory-at",
        |(d, path): &(D, String)| vec![Target::new(d, path, Write)],
        |v, (d, path)| v.remove_directory_at(d, path),
    )?;
    guard(
        linker,
        "[method]descriptor.unlink-file-at",
        |(d, path): &(D, String)| vec![Target::new(d, path, Write)],
        |v, (d, path)| v.unlink_file_at(d, path),
    )?;
    guard(
        linker,
        "[method]descriptor.set-times-at",
        |(d, _, path, ..): &(D, fs::PathFlags, String, fs::NewTimestamp, fs::NewTimestamp)| {
            vec![Target::new(d, path, Write)]
        },
        |v, (d, path_flags, path, atime, mtime)| v.set_times_at(d, path_flags, path, atime, mtime),
    )?;
    guard(
        linker,
        "[method]descriptor.symlink-at",
        |(d, target, link): &(D, String, String)| vec![Target::new(d, link, Write).linking_to(target)],
        |v, (d, target, link)| v.symlink_at(d, target, link),
    )?;
    guard(
        linker,
        "[method]descriptor.rename-at",
        |(from_dir, from, to_dir, to): &(D, String, D, String)| {
            vec![Target::new(from_dir, from, Write), Target::new(to_dir, to, Write)]
        },
        |v, (from_dir, from, to_dir, to)| v.rename_at(from_dir, from, to_dir, to),
    )?;
    guard(
        linker,
        "[method]descriptor.link-at",
        |(from_dir, _, from, to_dir, to): &(D, fs::PathFlags, String, D, String)| {
            vec![Target::new(from_dir, from, Write), Target::new(to_dir, to, Write)]
        },
        |v, (from_dir, path_flags, from, to_dir, to)| v.link_at(from_dir, path_flags, from, to_dir, to),
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_path_climbs_out_only_when_it_goes_above_its_start() {
        for path in ["..", "../x", "a/../..", "./../x", "a/b/../../../c"] {
            assert!(climbs_out(path), "{path}");
        }
        for path in ["", ".", "a", "a/..", "a/b/../c", "./a/./b", "..a", "a/..b"] {
            assert!(!climbs_out(path), "{path}");
        }
    }

    #[test]
    fn a_granted_dir_holds_paths_by_whole_components() {
        let within = |path, dir| strip_dir_prefix(path, dir).is_some();
        assert!(within("/staging/x", "/staging"));
        assert!(within("/staging", "/staging"));
        assert!(!within("/stagingx", "/staging"));
        assert!(within("/anything", ROOT));
    }
}
