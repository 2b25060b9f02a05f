//! What the server attaches to a [`crate::Hub`] after starting it, for code that reaches
//! the hub only through a socket: one value per type (the server crate attaches its
//! cluster handle, which the `presence` built-in asks the other nodes through).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Values by type, set once at start-up and read by handlers.
#[derive(Default)]
pub(crate) struct Attachments {
    values: RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Attachments {
    /// Attaches `value`, replacing the value of its type attached before.
    pub(crate) fn attach<T: Any + Send + Sync>(&self, value: T) {
        let mut values = self.values.write().unwrap_or_else(|e| e.into_inner());
        values.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The value of type `T`, if one is attached.
    pub(crate) fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());
        let value = values.get(&TypeId::of::<T>())?.clone();
        value.downcast::<T>().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_type() {
        let attachments = Attachments::default();
        assert!(attachments.get::<String>().is_none());
        attachments.attach(String::from("a"));
        attachments.attach(7u32);
        attachments.attach(String::from("b"));
        assert_eq!(
            attachments.get::<String>().as_deref().map(String::as_str),
            Some("b")
        );
        assert_eq!(attachments.get::<u32>().as_deref(), Some(&7));
    }
}
