//! Who is who: statement actors and ticket requesters joined into people by their agent
//! keys (lowercase). Any shared key joins two identities, and joins are transitive: an
//! actor known by `mbox`, the same person's `mbox_sha1sum` actor and a ticket whose
//! requester email gives both keys are one person, whatever order they arrive in.

use std::collections::HashMap;

/// Identities added one by one, each answered with a handle; once all are added,
/// [`People::person`] resolves a handle to the person it belongs to.
#[derive(Debug, Default)]
pub struct People {
    by_key: HashMap<String, usize>,
    /// Union-find over handles: each points towards its person's representative.
    parent: Vec<usize>,
}

impl People {
    /// Adds an identity known by these keys; `None` when there are none (a ticket without
    /// a requester belongs to nobody).
    pub fn add<K: AsRef<str>>(&mut self, keys: impl IntoIterator<Item = K>) -> Option<usize> {
        let mut handle = None;
        for key in keys {
            let key = key.as_ref().to_lowercase();
            let known = self.by_key.get(&key).copied();
            let here = match (handle, known) {
                (None, Some(k)) => k,
                (None, None) => self.fresh(),
                (Some(h), Some(k)) => {
                    self.join(h, k);
                    h
                }
                (Some(h), None) => h,
            };
            self.by_key.entry(key).or_insert(here);
            handle = Some(here);
        }
        handle
    }

    /// The person a handle belongs to (the same number for every handle of one person).
    pub fn person(&mut self, handle: usize) -> usize {
        let mut root = handle;
        while self.parent[root] != root {
            root = self.parent[root];
        }
        // Path compression: later look-ups of these handles take one step.
        let mut at = handle;
        while self.parent[at] != root {
            let next = self.parent[at];
            self.parent[at] = root;
            at = next;
        }
        root
    }

    fn fresh(&mut self) -> usize {
        self.parent.push(self.parent.len());
        self.parent.len() - 1
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.person(a), self.person(b));
        // The smaller representative wins, so the numbering does not depend on join order.
        let (keep, drop) = if a < b { (a, b) } else { (b, a) };
        self.parent[drop] = keep;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_sharing_any_key_are_one_person_whatever_the_order() {
        let mut people = People::default();
        let by_mbox = people.add(["mbox:mailto:maria@customer.example"]).unwrap();
        let by_sha1 = people.add(["mbox_sha1sum:ab12"]).unwrap();
        let other = people.add(["mbox:mailto:tom@customer.example"]).unwrap();
        assert_ne!(people.person(by_mbox), people.person(by_sha1));
        // A ticket whose requester email gives both keys joins the two actors.
        let ticket = people.add(["MBOX:mailto:Maria@Customer.Example", "mbox_sha1sum:AB12"]).unwrap();
        assert_eq!(people.person(by_mbox), people.person(by_sha1));
        assert_eq!(people.person(ticket), people.person(by_mbox));
        assert_ne!(people.person(other), people.person(by_mbox));
        assert_eq!(people.add(Vec::<String>::new()), None);
    }
}
