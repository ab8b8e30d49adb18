//! Helpers every devshell backend needs and none should write twice: embedding the manifest
//! in the component, and the guest path rule (absolute, normalized, confined to the mount).
//! Plain Rust with no dependencies, so it also builds natively for the host's unit tests.

/// Embed a JSON manifest in the `devshell-manifest` custom section of the component.
///
/// ```ignore
/// devshell_plugin_kit::manifest!(r#"{"name":"mock","version":"0.1.0","description":"...",
///   "capabilities":{"programs":[],"dirs":["staging"],"network":false}}"#);
/// ```
#[macro_export]
macro_rules! manifest {
    ($json:literal) => {
        #[used]
        #[unsafe(link_section = "devshell-manifest")]
        static DEVSHELL_MANIFEST: [u8; $json.len()] = {
            let bytes = $json.as_bytes();
            let mut out = [0u8; $json.len()];
            let mut i = 0;
            while i < bytes.len() {
                out[i] = bytes[i];
                i += 1;
            }
            out
        };
    };
}

/// Lexically normalize an absolute `/`-separated path: drop `.` and empty segments, resolve `..`
/// (never above `/`). Returns `None` for a relative path.
pub fn normalize_absolute(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// Normalize `path` and require it to be `mount` or below it. The error message names the path
/// and the mount, ready for an `invalid-path` error.
pub fn confine_to_mount(path: &str, mount: &str) -> Result<String, String> {
    let mount = normalize_absolute(mount).ok_or_else(|| format!("guest mount {mount:?} is not absolute"))?;
    let normalized = normalize_absolute(path)
        .ok_or_else(|| format!("{path:?} is not an absolute guest path (expected one under {mount})"))?;
    let inside = normalized == mount || mount == "/" || normalized.starts_with(&format!("{mount}/"));
    if inside {
        Ok(normalized)
    } else {
        Err(format!("{path:?} is outside the guest mount {mount}"))
    }
}

/// The part of a confined path below the mount, without a leading slash (`""` for the mount).
pub fn relative_to_mount<'a>(normalized: &'a str, mount: &str) -> &'a str {
    normalized.strip_prefix(mount).unwrap_or(normalized).trim_start_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_confines() {
        assert_eq!(normalize_absolute("/a/./b//c/../d").as_deref(), Some("/a/b/d"));
        assert_eq!(normalize_absolute("/../..").as_deref(), Some("/"));
        assert_eq!(normalize_absolute("a/b"), None);
        assert_eq!(confine_to_mount("/workspace/x/../y", "/workspace").unwrap(), "/workspace/y");
        assert!(confine_to_mount("/workspace/../etc/passwd", "/workspace").is_err());
        assert!(confine_to_mount("/workspacefoo", "/workspace").is_err());
        assert!(confine_to_mount("relative", "/workspace").is_err());
        assert_eq!(relative_to_mount("/workspace/a/b", "/workspace"), "a/b");
        assert_eq!(relative_to_mount("/workspace", "/workspace"), "");
    }
}
