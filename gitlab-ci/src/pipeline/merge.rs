//! ActiveSupport's `Hash#deep_merge`, which GitLab uses for `include:` and `extends:`.

use serde_norway::{Mapping, Value};

/// Merges `overlay` into `base`: hashes merge key by key, recursively; any other value
/// (arrays included) in `overlay` replaces the one in `base`. New keys are appended, existing
/// keys keep their position.
pub(crate) fn deep_merge(base: &mut Mapping, overlay: Mapping) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Mapping(existing)), Value::Mapping(incoming)) => {
                deep_merge(existing, incoming);
            }
            (Some(existing), value) => *existing = value,
            (None, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::deep_merge;
    use serde_norway::{Mapping, Value};

    fn map(yaml: &str) -> Mapping {
        match serde_norway::from_str(yaml) {
            Ok(Value::Mapping(map)) => map,
            other => panic!("not a mapping: {other:?}"),
        }
    }

    #[test]
    fn hashes_merge_arrays_replace_later_wins() {
        let mut base = map("a: {x: 1, y: [1, 2]}\nb: 1\n");
        deep_merge(&mut base, map("a: {y: [3], z: 2}\nc: 3\n"));
        assert_eq!(base, map("a: {x: 1, y: [3], z: 2}\nb: 1\nc: 3\n"));
    }
}
