//! The knowledge bases the server offers, by id; the first is the default.
//!
//! Tools pick one with their optional `knowledge_base_id` argument; an id not in the list is
//! refused here, before any knowledge base is called.

use super::{KbError, KnowledgeBase};
use std::sync::Arc;

/// A knowledge base and its id.
pub type Named = (String, Arc<dyn KnowledgeBase>);

/// One or more knowledge bases. Shared by all worker threads.
pub struct Catalog {
    entries: Vec<Named>,
}

impl Catalog {
    /// A single knowledge base (its id is not needed: there is nothing to choose).
    pub fn one(kb: Arc<dyn KnowledgeBase>) -> Catalog {
        Catalog {
            entries: vec![(String::new(), kb)],
        }
    }

    /// Several knowledge bases by id, the first being the default; `None` if `entries` is empty.
    pub fn many(entries: Vec<Named>) -> Option<Catalog> {
        (!entries.is_empty()).then_some(Catalog { entries })
    }

    /// The default knowledge base.
    pub fn default_kb(&self) -> &dyn KnowledgeBase {
        self.entries[0].1.as_ref()
    }

    /// Whether there is a choice to make (more than one knowledge base).
    pub fn is_multi(&self) -> bool {
        self.entries.len() > 1
    }

    /// The ids, default first.
    pub fn ids(&self) -> Vec<&str> {
        self.entries.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// Every knowledge base with its id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &dyn KnowledgeBase)> {
        self.entries
            .iter()
            .map(|(id, kb)| (id.as_str(), kb.as_ref()))
    }

    /// The id of the knowledge base `get(id)` returns ("" for the one of [`Catalog::one`]).
    pub fn id_of<'a>(&'a self, id: Option<&'a str>) -> &'a str {
        id.unwrap_or(&self.entries[0].0)
    }

    /// The knowledge base named `id`, or the default when `None`.
    pub fn get(&self, id: Option<&str>) -> Result<&dyn KnowledgeBase, KbError> {
        let Some(id) = id else {
            return Ok(self.default_kb());
        };
        self.entries
            .iter()
            .find(|(known, _)| known == id)
            .map(|(_, kb)| kb.as_ref())
            .ok_or_else(|| {
                KbError::InvalidRequest(format!(
                    "knowledge_base_id {id:?} is not one this server offers: use one of {} \
                     (or leave it out for {})",
                    self.ids().join(", "),
                    self.entries[0].0
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::testing::FakeKb;

    #[test]
    fn picks_by_id_with_the_first_as_default_and_refuses_others() {
        let a: Arc<dyn KnowledgeBase> = Arc::new(FakeKb::default());
        let b: Arc<dyn KnowledgeBase> = Arc::new(FakeKb::default());
        let c = Catalog::many(vec![("KBA".into(), a.clone()), ("KBB".into(), b.clone())]).unwrap();
        assert!(c.is_multi());
        assert_eq!(c.ids(), ["KBA", "KBB"]);
        let same = |x: &dyn KnowledgeBase, y: &Arc<dyn KnowledgeBase>| {
            std::ptr::addr_eq(x as *const dyn KnowledgeBase, Arc::as_ptr(y))
        };
        assert!(same(c.get(None).unwrap(), &a));
        assert!(same(c.get(Some("KBB")).unwrap(), &b));
        let e = c.get(Some("KBC")).err().unwrap();
        assert!(e.to_string().contains("KBA, KBB"), "{e}");
        assert!(Catalog::many(Vec::new()).is_none());
        assert!(!Catalog::one(a).is_multi());
    }
}
