//! Bedrock's Retrieve answer read straight from the bytes into typed structs, with no
//! `serde_json::Value` tree for the answer (only each result's metadata, which is arbitrary
//! JSON, stays a `Map`).
//!
//! As lenient as the Value-based reading it replaced: a field of the wrong type counts as
//! absent, a repeated key keeps its last value, unknown keys are skipped. Keys are borrowed
//! from the body when they have no escapes. `parse.rs` decides what is an error.

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// The top level of a Retrieve answer (all defaults when it is not an object).
#[derive(Default)]
pub(super) struct Answer {
    /// `None` when missing or not a list; an entry is `None` when it is not an object.
    pub(super) results: Option<Vec<Option<RawResult>>>,
    pub(super) guardrail_action: Option<String>,
    /// Bedrock's token for the next page of results.
    pub(super) next_token: Option<String>,
}

/// One entry of `retrievalResults`.
#[derive(Default)]
pub(super) struct RawResult {
    pub(super) content: Slot<Content>,
    pub(super) location: Option<RawLocation>,
    pub(super) score: Option<f64>,
    pub(super) document_id: Option<String>,
    /// Empty when missing or not an object.
    pub(super) metadata: Map<String, Value>,
}

/// A field that must be an object when present: `Other` is anything else but null.
#[derive(Default)]
pub(super) enum Slot<T> {
    /// Missing or null.
    #[default]
    Absent,
    Object(T),
    Other,
}

/// A result's `content`.
#[derive(Default)]
pub(super) struct Content {
    pub(super) text: Option<String>,
    pub(super) kind: Option<String>,
    pub(super) byte_content: Option<String>,
    /// ROW cells; a cell is `None` when it is not an object.
    pub(super) row: Option<Vec<Option<Cell>>>,
    pub(super) audio: Option<Segment>,
    pub(super) video: Option<Segment>,
}

/// An AUDIO or VIDEO segment.
#[derive(Default)]
pub(super) struct Segment {
    pub(super) transcription: Option<String>,
    pub(super) summary: Option<String>,
    pub(super) s3_uri: Option<String>,
}

/// One ROW cell.
#[derive(Default)]
pub(super) struct Cell {
    pub(super) name: Option<String>,
    /// Any JSON value; `None` when missing.
    pub(super) value: Option<Value>,
}

/// A result's `location`: its type and every `…Location` object in it.
#[derive(Default)]
pub(super) struct RawLocation {
    pub(super) kind: Option<String>,
    /// `(object name, its identifying fields)`, one per name (a repeated key replaces).
    pub(super) objects: Vec<(Cow<'static, str>, Source)>,
}

/// The fields that can identify a source, in the order unknown location objects are searched.
pub(super) const SOURCE_FIELDS: [&str; 4] = ["uri", "url", "id", "query"];

/// The string values of a location object's [`SOURCE_FIELDS`].
#[derive(Default)]
pub(super) struct Source(pub(super) [Option<String>; 4]);

impl Source {
    /// The string value of `field`, one of [`SOURCE_FIELDS`].
    pub(super) fn get(&self, field: &str) -> Option<&str> {
        let i = SOURCE_FIELDS.iter().position(|f| *f == field)?;
        self.0[i].as_deref()
    }
}

/// Reads a Retrieve answer; fails only on bytes that are not JSON.
pub(super) fn answer(body: &[u8]) -> Result<Answer, serde_json::Error> {
    let read: Lenient<Obj<Answer>> = serde_json::from_slice(body)?;
    Ok(read.0 .0.unwrap_or_default())
}

/// How a field reads each kind of JSON value; kinds it does not want read as `other()`.
trait Read<'de>: Sized {
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
trait Fields<'de>: Default {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// Reads the value of the current key as `T`.
fn next<'de, T: Read<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<T, A::Error> {
    Ok(map.next_value::<Lenient<T>>()?.0)
}

/// Reads the fields of an object into `T`.
fn fields<'de, T: Fields<'de>, A: MapAccess<'de>>(mut map: A) -> Result<T, A::Error> {
    let mut t = T::default();
    while let Some(Key(key)) = map.next_key()? {
        t.field(&key, &mut map)?;
    }
    Ok(t)
}

/// Adapts a [`Read`] to serde: any JSON value is accepted.
struct Lenient<T>(T);

impl<'de, T: Read<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor(PhantomData)).map(Lenient)
    }
}

struct LenientVisitor<T>(PhantomData<T>);

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
struct Key<'de>(Cow<'de, str>);

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
struct Text(Option<String>);

impl<'de> Read<'de> for Text {
    fn other() -> Self {
        Text(None)
    }
    fn string(s: Cow<'de, str>) -> Self {
        Text(Some(s.into_owned()))
    }
}

/// A number field.
struct Num(Option<f64>);

impl<'de> Read<'de> for Num {
    fn other() -> Self {
        Num(None)
    }
    fn number(n: f64) -> Self {
        Num(Some(n))
    }
}

/// An object field; anything else reads as `None`.
struct Obj<T>(Option<T>);

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
struct List<T>(Option<Vec<T>>);

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
struct Metadata(Map<String, Value>);

impl<'de> Read<'de> for Metadata {
    fn other() -> Self {
        Metadata(Map::new())
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        Map::deserialize(MapAccessDeserializer::new(map)).map(Metadata)
    }
}

impl<'de> Fields<'de> for Answer {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "retrievalResults" => {
                let List(items) = next::<List<Obj<RawResult>>, _>(map)?;
                self.results = items.map(|items| items.into_iter().map(|o| o.0).collect());
            }
            "guardrailAction" => self.guardrail_action = next::<Text, _>(map)?.0,
            "nextToken" => self.next_token = next::<Text, _>(map)?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Fields<'de> for RawResult {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "content" => self.content = next(map)?,
            "location" => self.location = next::<Obj<_>, _>(map)?.0,
            "score" => self.score = next::<Num, _>(map)?.0,
            "documentId" => self.document_id = next::<Text, _>(map)?.0,
            "metadata" => self.metadata = next::<Metadata, _>(map)?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Fields<'de> for Content {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "text" => self.text = next::<Text, _>(map)?.0,
            "type" => self.kind = next::<Text, _>(map)?.0,
            "byteContent" => self.byte_content = next::<Text, _>(map)?.0,
            "row" => {
                let List(cells) = next::<List<Obj<Cell>>, _>(map)?;
                self.row = cells.map(|cells| cells.into_iter().map(|c| c.0).collect());
            }
            "audio" => self.audio = next::<Obj<_>, _>(map)?.0,
            "video" => self.video = next::<Obj<_>, _>(map)?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Fields<'de> for Segment {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "transcription" => self.transcription = next::<Text, _>(map)?.0,
            "summary" => self.summary = next::<Text, _>(map)?.0,
            "s3Uri" => self.s3_uri = next::<Text, _>(map)?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Fields<'de> for Cell {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "columnName" => self.name = next::<Text, _>(map)?.0,
            "columnValue" => self.value = Some(map.next_value()?),
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Fields<'de> for RawLocation {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key == "type" {
            self.kind = next::<Text, _>(map)?.0;
            return Ok(());
        }
        if !key.ends_with("Location") {
            return skip(map);
        }
        let found = next::<Obj<Source>, _>(map)?.0;
        self.objects.retain(|(name, _)| name != key);
        if let Some(source) = found {
            // Known names are static: no allocation for the usual one location object.
            let name = super::LOCATION_FIELDS
                .iter()
                .find(|(name, _)| *name == key)
                .map_or_else(
                    || Cow::Owned(key.to_owned()),
                    |(name, _)| Cow::Borrowed(*name),
                );
            self.objects.push((name, source));
        }
        Ok(())
    }
}

impl<'de> Fields<'de> for Source {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match SOURCE_FIELDS.iter().position(|f| *f == key) {
            Some(i) => self.0[i] = next::<Text, _>(map)?.0,
            None => skip(map)?,
        }
        Ok(())
    }
}

fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}
