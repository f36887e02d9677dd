//! A lenient JSON reader on serde, schema-free: each field type says which JSON kinds it
//! takes, and any other kind reads as absent instead of failing, so one odd field never
//! loses a whole answer. A repeated key keeps its last value, unknown keys are skipped, and
//! keys are borrowed from the body when they have no escapes. `wire.rs` declares Bedrock's
//! schema in these terms; nothing here knows Bedrock.

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A field that must be an object when present: `Other` is anything else but null.
#[derive(Default)]
pub(super) enum Slot<T> {
    /// Missing or null.
    #[default]
    Absent,
    Object(T),
    Other,
}

/// How a field reads each kind of JSON value; kinds it does not want read as `other()`.
pub(super) trait Read<'de>: Sized {
    /// What any unwanted value reads as.
    fn other() -> Self;
    fn string(_: Cow<'de, str>) -> Self {
        Self::other()
    }
    fn number(_: f64) -> Self {
        Self::other()
    }
    fn null() -> Self {
        Self::other()
    }
    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::other())
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::other())
    }
}

/// An object's fields, read one key at a time (a repeated key overwrites).
pub(super) trait Fields<'de>: Default {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// Reads the value of the current key as `T`.
pub(super) fn next<'de, T: Read<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<T, A::Error> {
    Ok(map.next_value::<Lenient<T>>()?.0)
}

/// Reads the fields of an object into `T`.
pub(super) fn fields<'de, T: Fields<'de>, A: MapAccess<'de>>(mut map: A) -> Result<T, A::Error> {
    let mut t = T::default();
    while let Some(Key(key)) = map.next_key()? {
        t.field(&key, &mut map)?;
    }
    Ok(t)
}

/// Adapts a [`Read`] to serde: any JSON value is accepted.
pub(super) struct Lenient<T>(pub(super) T);

impl<'de, T: Read<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor(PhantomData)).map(Lenient)
    }
}

pub(super) struct LenientVisitor<T>(PhantomData<T>);

impl<'de, T: Read<'de>> Visitor<'de> for LenientVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::other())
    }
    fn visit_i64<E>(self, n: i64) -> Result<T, E> {
        Ok(T::number(n as f64))
    }
    fn visit_u64<E>(self, n: u64) -> Result<T, E> {
        Ok(T::number(n as f64))
    }
    fn visit_f64<E>(self, n: f64) -> Result<T, E> {
        Ok(T::number(n))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<T, E> {
        Ok(T::string(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<T, E> {
        Ok(T::string(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<T, E> {
        Ok(T::string(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::null())
    }
    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::null())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::map(map)
    }
}

/// An object key, borrowed from the body unless it had escapes.
pub(super) struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A string field.
pub(super) struct Text(pub(super) Option<String>);

impl<'de> Read<'de> for Text {
    fn other() -> Self {
        Text(None)
    }
    fn string(s: Cow<'de, str>) -> Self {
        Text(Some(s.into_owned()))
    }
}

/// A number field.
pub(super) struct Num(pub(super) Option<f64>);

impl<'de> Read<'de> for Num {
    fn other() -> Self {
        Num(None)
    }
    fn number(n: f64) -> Self {
        Num(Some(n))
    }
}

/// An object field; anything else reads as `None`.
pub(super) struct Obj<T>(pub(super) Option<T>);

impl<'de, T: Fields<'de>> Read<'de> for Obj<T> {
    fn other() -> Self {
        Obj(None)
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        fields(map).map(|t| Obj(Some(t)))
    }
}

impl<'de, T: Fields<'de>> Read<'de> for Slot<T> {
    fn other() -> Self {
        Slot::Other
    }
    fn null() -> Self {
        Slot::Absent
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        fields(map).map(Slot::Object)
    }
}

/// A list field; anything else reads as `None`.
pub(super) struct List<T>(pub(super) Option<Vec<T>>);

impl<'de, T: Read<'de>> Read<'de> for List<T> {
    fn other() -> Self {
        List(None)
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Lenient(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(List(Some(items)))
    }
}

/// An object kept as arbitrary JSON; anything else reads as an empty map.
pub(super) struct Metadata(pub(super) Map<String, Value>);

impl<'de> Read<'de> for Metadata {
    fn other() -> Self {
        Metadata(Map::new())
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        Map::deserialize(MapAccessDeserializer::new(map)).map(Metadata)
    }
}

/// Skips the value of the current key.
pub(super) fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}
