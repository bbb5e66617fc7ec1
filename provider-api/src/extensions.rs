//! State that other crates keep with a [`ResolveContext`](crate::ResolveContext).
//!
//! The api stays free of transports: the HTTP crate keeps its connection
//! pools here, keyed by their type, without this crate naming them.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// A set of values, at most one per type, shared by every clone of a
/// context. Each value is made on first use.
///
/// ```
/// use ci_secrets_provider_api::Extensions;
///
/// #[derive(Debug, PartialEq)]
/// struct Pools(u32);
///
/// let extensions = Extensions::default();
/// let first = extensions.get_or_insert_with(|| Pools(1));
/// let again = extensions.clone().get_or_insert_with(|| Pools(2));
/// assert_eq!(*again, Pools(1));
/// assert!(std::sync::Arc::ptr_eq(&first, &again));
/// ```
#[derive(Clone, Default)]
pub struct Extensions {
    values: Arc<Mutex<Vec<Arc<dyn Any + Send + Sync>>>>,
}

impl Extensions {
    /// The value of type `T`, made by `init` if there is none yet.
    ///
    /// ```
    /// # use ci_secrets_provider_api::Extensions;
    /// let extensions = Extensions::default();
    /// assert_eq!(*extensions.get_or_insert_with(|| 7_u8), 7);
    /// assert_eq!(*extensions.get_or_insert_with(|| "other type"), "other type");
    /// ```
    pub fn get_or_insert_with<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        // A panic while the lock was held cannot leave the list half-updated:
        // the only mutation is one `push`.
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = values
            .iter()
            .find_map(|value| Arc::clone(value).downcast::<T>().ok())
        {
            return found;
        }
        let value = Arc::new(init());
        values.push(value.clone());
        value
    }
}

/// Shows how many values are held; their types are private to their crates.
///
/// ```
/// # use ci_secrets_provider_api::Extensions;
/// assert_eq!(format!("{:?}", Extensions::default()), "Extensions { values: 0 }");
/// ```
impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self
            .values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Extensions")
            .field("values", &count)
            .finish()
    }
}
