//! Bedrock's Retrieve answer schema, read straight from the bytes into typed structs with the
//! lenient reader (`lenient.rs`): no `serde_json::Value` tree for the answer (only each
//! result's metadata, which is arbitrary JSON, stays a `Map`). A field of the wrong type
//! counts as absent; `parse.rs` decides what is an error.

use super::lenient::{next, skip, Fields, Lenient, List, Metadata, Num, Obj, Slot, Text};
use serde::de::MapAccess;
use serde_json::{Map, Value};
use std::borrow::Cow;

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
