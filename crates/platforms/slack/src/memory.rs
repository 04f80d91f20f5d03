//! [`Recent`]: a bounded set of recently seen values (event ids, threads
//! the bot is in), oldest forgotten first, so memory stays flat however
//! long the gateway runs.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

/// At most `capacity` values; inserting beyond it forgets the oldest.
#[derive(Debug)]
pub(crate) struct Recent<T> {
    capacity: usize,
    inner: Mutex<(HashSet<T>, VecDeque<T>)>,
}

impl<T: Eq + Hash + Clone> Recent<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    /// Adds `value`; false when it was there already.
    pub(crate) fn insert(&self, value: T) -> bool {
        // Every update leaves both collections consistent.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (set, order) = &mut *inner;
        if !set.insert(value.clone()) {
            return false;
        }
        order.push_back(value);
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }

    pub(crate) fn contains(&self, value: &T) -> bool {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.0.contains(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_is_forgotten_first() {
        let recent = Recent::new(2);
        assert!(recent.insert("a"));
        assert!(!recent.insert("a"));
        assert!(recent.insert("b"));
        assert!(recent.insert("c"));
        assert!(!recent.contains(&"a"));
        assert!(recent.contains(&"b") && recent.contains(&"c"));
        assert!(recent.insert("d"));
        assert!(!recent.contains(&"b"));
        assert!(recent.contains(&"c") && recent.contains(&"d"));
    }
}
