//! Which staging paths are build output, pulled as lazy entries instead of into memory.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Sync rules: which paths are build output, pulled as lazy host-backed entries.
///
/// Each pattern is a glob. Without a `/` it is matched against every path component (`target`,
/// `*.o`, `node_modules`); with one, against the path from the workspace root (`docs/book`,
/// `gen/**/*.bin`). A matched directory covers everything under it.
#[derive(Debug, Clone)]
pub struct Rules {
    components: GlobSet,
    paths: GlobSet,
}

impl Default for Rules {
    fn default() -> Self {
        Rules::new(&["target".to_string()]).expect("the default pattern is a valid glob")
    }
}

impl Rules {
    /// Compile `patterns`; the error names the first bad one.
    pub fn new(patterns: &[String]) -> Result<Rules, String> {
        let mut components = GlobSetBuilder::new();
        let mut paths = GlobSetBuilder::new();
        for pattern in patterns {
            let trimmed = pattern.trim_matches('/');
            let glob = GlobBuilder::new(trimmed)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("lazy pattern {pattern:?} is not a valid glob: {e}"))?;
            let set = if trimmed.contains('/') { &mut paths } else { &mut components };
            set.add(glob);
        }
        let build = |set: GlobSetBuilder| set.build().map_err(|e| format!("lazy patterns: {e}"));
        Ok(Rules { components: build(components)?, paths: build(paths)? })
    }

    pub(super) fn is_lazy(&self, relative: &str) -> bool {
        let mut end = 0;
        for component in relative.split('/') {
            end += component.len();
            if self.components.is_match(component) || self.paths.is_match(&relative[..end]) {
                return true;
            }
            end += 1;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_patterns_match_components_or_paths_and_everything_below() {
        let rules = Rules::new(&["target".into(), "*.o".into(), "docs/book".into(), "gen/*/out/".into()]).unwrap();
        for lazy in ["target", "p/target/debug/x", "a/b.o", "docs/book", "docs/book/index.html", "gen/x/out/y"] {
            assert!(rules.is_lazy(lazy), "{lazy}");
        }
        for eager in ["targets/x", "src/main.rs", "a/b.os", "p/docs/book", "docs/bookish", "gen/x/y/out/z"] {
            assert!(!rules.is_lazy(eager), "{eager}");
        }
        let bad = Rules::new(&["ok".into(), "[unclosed".into()]).unwrap_err();
        assert!(bad.contains("\"[unclosed\""), "{bad}");
    }
}
