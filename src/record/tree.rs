//! Maps and lists as attribute values: a `serde` value made into the tree
//! a record keeps, by the rules flat values follow.
//!
//! `serde_json::to_value` would do most of this, but it loses what JSON
//! numbers cannot hold: a NaN or infinite float becomes `null`, and one
//! integer beyond 64 bits fails the whole value (which then becomes its
//! text). Here, as for a value outside any map, such a float becomes the
//! string `"NaN"`, `"Infinity"` or `"-Infinity"` and such an integer its
//! decimal string. A tree nested deeper than [`MAX_DEPTH`] keeps what is
//! deeper as its JSON text, down to [`MAX_TEXT_DEPTH`] levels, where each
//! `Some`, newtype and newtype variant counts as a level too; a value
//! deeper still is replaced by [`TOO_DEEP`], without being serialized.

use std::cell::Cell;

use serde::ser::{self, Serialize};
use serde_json::{Map, Number, Value};

/// How deep maps and lists may nest in an attribute value; deeper ones are
/// kept as their JSON text. OTLP decoders bound how deep messages nest
/// (`prost` at 100, three per map), and a record too deep for the
/// collector would fail the whole request it is in, other records and all.
pub(crate) const MAX_DEPTH: usize = 16;

/// How deep maps and lists are serialized at all. A value's `Serialize`
/// impl calls the serializer back for every level, and each level takes
/// some stack: a list nested a few thousand levels deep (a long linked
/// list, say) would overflow the logging thread's stack, which aborts the
/// process. A map or list at this depth ends the descent: the
/// serializer refuses it at once, and its parent keeps [`TOO_DEEP`] in its
/// place.
pub(crate) const MAX_TEXT_DEPTH: usize = 64;

/// What stands for a map or list nested deeper than [`MAX_TEXT_DEPTH`].
pub(crate) const TOO_DEEP: &str = "[nested too deep]";

/// Why a value has no tree: its `Serialize` impl failed, and the value
/// is kept as its text (`Display` or `Debug`) instead, when that is safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unserializable {
    /// No part of the value was cut for its depth, so formatting it
    /// descends no deeper than serializing it did.
    Formattable,
    /// A part nested deeper than [`MAX_TEXT_DEPTH`]: formatting the value
    /// would descend into that part without bound and could overflow the
    /// stack, so the value is kept as [`TOO_DEEP`] instead.
    TooDeepToFormat,
}

/// What a value serialized to.
#[derive(Debug, PartialEq)]
pub(crate) enum Tree {
    /// A map, a list, or a scalar JSON holds (a string among them).
    Value(Value),
    /// A number JSON cannot hold, as its text (`NaN`, `Infinity`,
    /// `-Infinity`, or an integer beyond 64 bits), when it is the value
    /// itself or inside wrappers only (`Some`, newtypes): told apart from
    /// a string, which [`Tree::Value`] holds, however it reads. Inside a
    /// map or list, such a number is a string of the tree.
    Numeral(String),
    /// Bytes (`serde_bytes`, `bytes::Bytes`), when they are the value
    /// itself or inside wrappers only: a bytes value, as a `tracing` field
    /// of bytes is. Inside a map, a list or an enum's variant, bytes are a
    /// list of integers.
    Bytes(Vec<u8>),
}

/// `value` as a tree, or why it has none. `redact` runs on the tree while
/// it is whole, before what nests deeper than [`MAX_DEPTH`] becomes text,
/// where no redaction would find a secret-named key.
pub(crate) fn to_tree<T: Serialize + ?Sized>(
    value: &T,
    redact: impl FnOnce(&mut Value),
) -> Result<Tree, Unserializable> {
    let cut = Cell::new(false);
    let numeral = Cell::new(false);
    let bytes = Cell::new(None);
    let serialized = value.serialize(TreeSerializer {
        depth: 1,
        cut: &cut,
        outermost: Some(Outermost {
            numeral: &numeral,
            bytes: &bytes,
        }),
    });
    if let (Ok(_), Some(bytes)) = (&serialized, bytes.take()) {
        return Ok(Tree::Bytes(bytes));
    }
    let mut tree = match serialized {
        Ok(Value::String(text)) if numeral.get() => return Ok(Tree::Numeral(text)),
        Ok(tree) => tree,
        Err(error) if error.to_string() == TOO_DEEP => Value::String(TOO_DEEP.to_owned()),
        Err(_) if cut.get() => return Err(Unserializable::TooDeepToFormat),
        Err(_) => return Err(Unserializable::Formattable),
    };
    redact(&mut tree);
    bound_depth(&mut tree, 1);
    Ok(Tree::Value(tree))
}

/// The text a non-finite double is written as, everywhere.
pub(crate) fn non_finite_text(double: f64) -> &'static str {
    if double.is_nan() {
        "NaN"
    } else if double > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// The double [`non_finite_text`] wrote as `text`, if it is one.
pub(crate) fn non_finite_double(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn bound_depth(value: &mut Value, depth: usize) {
    if !matches!(value, Value::Array(_) | Value::Object(_)) {
        return;
    }
    if depth > MAX_DEPTH {
        let text = value.to_string();
        *value = Value::String(text);
        return;
    }
    match value {
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| bound_depth(item, depth + 1)),
        Value::Object(entries) => entries
            .values_mut()
            .for_each(|item| bound_depth(item, depth + 1)),
        _ => {}
    }
}

fn float(double: f64) -> Value {
    Number::from_f64(double).map_or_else(
        || Value::String(non_finite_text(double).to_owned()),
        Value::Number,
    )
}

fn wide_integer(value: impl Into<i128> + ToString + Copy) -> Value {
    let wide: i128 = value.into();
    if let Ok(int) = i64::try_from(wide) {
        Value::from(int)
    } else if let Ok(unsigned) = u64::try_from(wide) {
        Value::from(unsigned)
    } else {
        Value::String(value.to_string())
    }
}

/// Builds a [`Value`] from a `serde` value at nesting `depth` (1 for the
/// value itself).
struct TreeSerializer<'cut> {
    depth: usize,
    /// Set once any map or list was refused for its depth.
    cut: &'cut Cell<bool>,
    /// For the value itself and what only wrappers hold: what it is, when
    /// JSON has no value of its own for it.
    outermost: Option<Outermost<'cut>>,
}

/// What the value itself (or what only wrappers hold) turned out to be,
/// beyond what JSON holds.
#[derive(Clone, Copy)]
struct Outermost<'cut> {
    /// Set when it is a number written as text (see [`Tree::Numeral`]).
    numeral: &'cut Cell<bool>,
    /// Its bytes, when it is bytes (see [`Tree::Bytes`]).
    bytes: &'cut Cell<Option<Vec<u8>>>,
}

impl<'cut> TreeSerializer<'cut> {
    /// `value`, noted as a number written as text when it is a string.
    fn number(&self, value: Value) -> Value {
        if let (Some(outermost), Value::String(_)) = (self.outermost, &value) {
            outermost.numeral.set(true);
        }
        value
    }

    /// Refuses to open a map or list deeper than [`MAX_TEXT_DEPTH`].
    fn open(&self) -> Result<usize, serde_json::Error> {
        if self.depth > MAX_TEXT_DEPTH {
            self.cut.set(true);
            Err(ser::Error::custom(TOO_DEEP))
        } else {
            Ok(self.depth)
        }
    }

    /// The serializer of a value inside a wrapper (`Some`, a newtype, a
    /// newtype variant), one level down: a wrapper adds no list or map of
    /// its own (but the variant's), yet its `Serialize` impl calls back as
    /// one does, and a chain of them (a recursive enum) would otherwise
    /// descend without bound. What it holds is still the value itself
    /// ([`Outermost`]), but in a variant, whose caller leaves that out.
    fn inside(&self) -> Result<TreeSerializer<'cut>, serde_json::Error> {
        Ok(TreeSerializer {
            depth: self.open()? + 1,
            cut: self.cut,
            outermost: self.outermost,
        })
    }
}

/// `value` serialized one level below `depth`; [`TOO_DEEP`] when the
/// serializer refused it for its depth.
fn child<T: Serialize + ?Sized>(
    value: &T,
    depth: usize,
    cut: &Cell<bool>,
) -> Result<Value, serde_json::Error> {
    match value.serialize(TreeSerializer {
        depth: depth + 1,
        cut,
        outermost: None,
    }) {
        Err(error) if error.to_string() == TOO_DEEP => Ok(Value::String(TOO_DEEP.to_owned())),
        result => result,
    }
}

/// A list being built: sequences, tuples, and the items of a tuple variant.
struct ListBuilder<'cut> {
    depth: usize,
    cut: &'cut Cell<bool>,
    items: Vec<Value>,
    /// The variant a tuple variant's items go under.
    variant: Option<&'static str>,
}

/// A map being built: maps, structs, and the fields of a struct variant.
struct MapBuilder<'cut> {
    depth: usize,
    cut: &'cut Cell<bool>,
    entries: Map<String, Value>,
    next_key: Option<String>,
    /// The variant a struct variant's fields go under.
    variant: Option<&'static str>,
    /// Set for the structs through which `serde_json` passes a number with
    /// `arbitrary_precision`, or a `RawValue`, as JSON text.
    json_text: bool,
}

/// The names of those structs (and of their one field): `serde_json`'s own
/// value serializer reads the text back as JSON, and so does this one.
const JSON_TEXT_STRUCTS: [&str; 2] = [
    "$serde_json::private::Number",
    "$serde_json::private::RawValue",
];

/// The most items a list reserves room for up front. The length a value
/// announces comes from its own `Serialize` impl, which may be wrong: a
/// hint of `usize::MAX` would panic, and a merely huge one would abort on
/// a failed allocation, on the logging thread.
const RESERVED_ITEMS: usize = 64;

/// `{variant: value}`, as `serde_json` writes an enum variant with data.
fn under_variant(variant: Option<&'static str>, value: Value) -> Value {
    match variant {
        Some(variant) => {
            let mut entries = Map::new();
            entries.insert(variant.to_owned(), value);
            Value::Object(entries)
        }
        None => value,
    }
}

/// A map key as text: strings as they are, anything else (a number, a
/// tuple, a unit) as its JSON text. JSON itself takes only text keys, and
/// `serde_json` fails on a key that is not a string, a number or a bool;
/// the map would then lose its structure, and with it the redaction of the
/// secret-named keys inside it.
fn key_text(key: Value) -> String {
    match key {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

impl<'cut> ser::Serializer for TreeSerializer<'cut> {
    type Ok = Value;
    type Error = serde_json::Error;
    type SerializeSeq = ListBuilder<'cut>;
    type SerializeTuple = ListBuilder<'cut>;
    type SerializeTupleStruct = ListBuilder<'cut>;
    type SerializeTupleVariant = ListBuilder<'cut>;
    type SerializeMap = MapBuilder<'cut>;
    type SerializeStruct = MapBuilder<'cut>;
    type SerializeStructVariant = MapBuilder<'cut>;

    fn serialize_bool(self, v: bool) -> Result<Value, Self::Error> {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, Self::Error> {
        Ok(Value::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, Self::Error> {
        Ok(Value::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, Self::Error> {
        Ok(Value::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, Self::Error> {
        Ok(Value::from(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Value, Self::Error> {
        Ok(self.number(wide_integer(v)))
    }

    fn serialize_u8(self, v: u8) -> Result<Value, Self::Error> {
        Ok(Value::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, Self::Error> {
        Ok(Value::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, Self::Error> {
        Ok(Value::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, Self::Error> {
        Ok(Value::from(v))
    }

    fn serialize_u128(self, v: u128) -> Result<Value, Self::Error> {
        Ok(self.number(match u64::try_from(v) {
            Ok(narrow) => Value::from(narrow),
            Err(_) => Value::String(v.to_string()),
        }))
    }

    fn serialize_f32(self, v: f32) -> Result<Value, Self::Error> {
        Ok(self.number(float(f64::from(v))))
    }

    fn serialize_f64(self, v: f64) -> Result<Value, Self::Error> {
        Ok(self.number(float(v)))
    }

    fn serialize_char(self, v: char) -> Result<Value, Self::Error> {
        Ok(Value::String(v.to_string()))
    }

    /// Values captured with `Display` or `Debug` (`log`'s `:%` and `:?`)
    /// come here. serde's own version panics when the impl returns an
    /// error; what it wrote before failing is kept instead, as everywhere
    /// else a value is formatted.
    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<Value, Self::Error> {
        Ok(Value::String(crate::record::format_lossy(format_args!(
            "{value}"
        ))))
    }

    fn serialize_str(self, v: &str) -> Result<Value, Self::Error> {
        Ok(Value::String(v.to_owned()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Self::Error> {
        if let Some(outermost) = self.outermost {
            outermost.bytes.set(Some(v.to_vec()));
            return Ok(Value::Null);
        }
        Ok(Value::Array(v.iter().map(|&b| Value::from(b)).collect()))
    }

    fn serialize_none(self) -> Result<Value, Self::Error> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, Self::Error> {
        value.serialize(self.inside()?)
    }

    fn serialize_unit(self) -> Result<Value, Self::Error> {
        Ok(Value::Null)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, Self::Error> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, Self::Error> {
        Ok(Value::String(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, Self::Error> {
        value.serialize(self.inside()?)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, Self::Error> {
        // The variant makes a map of its own: what it holds is inside it.
        let inside = TreeSerializer {
            outermost: None,
            ..self.inside()?
        };
        Ok(under_variant(Some(variant), value.serialize(inside)?))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<ListBuilder<'cut>, Self::Error> {
        Ok(ListBuilder {
            depth: self.open()?,
            cut: self.cut,
            items: Vec::with_capacity(len.unwrap_or(0).min(RESERVED_ITEMS)),
            variant: None,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<ListBuilder<'cut>, Self::Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<ListBuilder<'cut>, Self::Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<ListBuilder<'cut>, Self::Error> {
        Ok(ListBuilder {
            depth: self.open()?,
            cut: self.cut,
            items: Vec::with_capacity(len.min(RESERVED_ITEMS)),
            variant: Some(variant),
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<MapBuilder<'cut>, Self::Error> {
        Ok(MapBuilder {
            depth: self.open()?,
            cut: self.cut,
            entries: Map::new(),
            next_key: None,
            variant: None,
            json_text: false,
        })
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<MapBuilder<'cut>, Self::Error> {
        let mut builder = self.serialize_map(Some(len))?;
        builder.json_text = JSON_TEXT_STRUCTS.contains(&name);
        Ok(builder)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapBuilder<'cut>, Self::Error> {
        Ok(MapBuilder {
            depth: self.open()?,
            cut: self.cut,
            entries: Map::new(),
            next_key: None,
            variant: Some(variant),
            json_text: false,
        })
    }
}

impl ListBuilder<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), serde_json::Error> {
        self.items.push(child(value, self.depth, self.cut)?);
        Ok(())
    }

    fn finish(self) -> Value {
        under_variant(self.variant, Value::Array(self.items))
    }
}

/// The four list shapes `serde` knows (sequence, tuple, tuple struct,
/// tuple variant) differ only in their method's name.
macro_rules! list_serializer {
    ($shape:ident, $add:ident) => {
        impl ser::$shape for ListBuilder<'_> {
            type Ok = Value;
            type Error = serde_json::Error;

            fn $add<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
                self.push(value)
            }

            fn end(self) -> Result<Value, Self::Error> {
                Ok(self.finish())
            }
        }
    };
}

list_serializer!(SerializeSeq, serialize_element);
list_serializer!(SerializeTuple, serialize_element);
list_serializer!(SerializeTupleStruct, serialize_field);
list_serializer!(SerializeTupleVariant, serialize_field);

impl MapBuilder<'_> {
    fn insert<T: Serialize + ?Sized>(
        &mut self,
        key: String,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        self.entries
            .insert(key, child(value, self.depth, self.cut)?);
        Ok(())
    }

    fn finish(self) -> Value {
        if self.json_text {
            if let Some(Value::String(text)) = self.entries.values().next() {
                return serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()));
            }
        }
        under_variant(self.variant, Value::Object(self.entries))
    }
}

impl ser::SerializeMap for MapBuilder<'_> {
    type Ok = Value;
    type Error = serde_json::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Self::Error> {
        self.next_key = Some(key_text(child(key, self.depth, self.cut)?));
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        let key = self
            .next_key
            .take()
            .ok_or_else(|| ser::Error::custom("a map value came before its key"))?;
        self.insert(key, value)
    }

    fn end(self) -> Result<Value, Self::Error> {
        Ok(self.finish())
    }
}

/// Structs and struct variants, whose fields come with static names.
macro_rules! struct_serializer {
    ($shape:ident) => {
        impl ser::$shape for MapBuilder<'_> {
            type Ok = Value;
            type Error = serde_json::Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Self::Error> {
                self.insert(key.to_owned(), value)
            }

            fn end(self) -> Result<Value, Self::Error> {
                Ok(self.finish())
            }
        }
    };
}

struct_serializer!(SerializeStruct);
struct_serializer!(SerializeStructVariant);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    /// `value`'s tree, a number written as text as the string it is inside
    /// a map or list.
    fn tree_of<T: Serialize + ?Sized>(value: &T) -> Value {
        match to_tree(value, |_| {}).expect("a tree") {
            Tree::Value(tree) => tree,
            Tree::Numeral(text) => Value::String(text),
            Tree::Bytes(bytes) => Value::Array(bytes.into_iter().map(Value::from).collect()),
        }
    }

    /// Bytes as `serde_bytes` and `bytes::Bytes` serialize them.
    struct Raw(&'static [u8]);

    impl Serialize for Raw {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(self.0)
        }
    }

    /// Regression: bytes captured with `:serde` became a list of integers,
    /// one per byte, where a `tracing` field of bytes is a bytes value.
    #[test]
    fn bytes_are_bytes_unless_inside_a_map_or_list() {
        assert_eq!(
            to_tree(&Raw(b"\x01\x02"), |_| {}),
            Ok(Tree::Bytes(vec![1, 2]))
        );
        assert_eq!(
            to_tree(&Some(Raw(b"\x03")), |_| {}),
            Ok(Tree::Bytes(vec![3]))
        );
        assert_eq!(
            to_tree(&[Raw(b"\x04")], |_| {}),
            Ok(Tree::Value(json!([[4]])))
        );
        // Regression: a newtype variant holding bytes lost its name, the
        // bytes taken for the value itself.
        enum Payload {
            Raw(Raw),
        }
        impl Serialize for Payload {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let Payload::Raw(raw) = self;
                serializer.serialize_newtype_variant("Payload", 0, "Raw", raw)
            }
        }
        assert_eq!(
            to_tree(&Payload::Raw(Raw(b"\x05")), |_| {}),
            Ok(Tree::Value(json!({"Raw": [5]})))
        );
    }

    /// Regression: a string that read as a number (`"4111111111111111"`,
    /// `"NaN"`) was taken for a number written as text, so the length
    /// limit left it whole, and a `NaN` inside a newtype was a string
    /// where a `NaN` value is a double.
    #[test]
    fn only_numbers_are_numerals_and_only_outside_maps_and_lists() {
        #[derive(serde::Serialize)]
        struct Ratio(f64);
        #[derive(serde::Serialize)]
        struct Id(u128);
        let numeral = |text: &str| Ok(Tree::Numeral(text.to_owned()));
        assert_eq!(to_tree(&u128::MAX, |_| {}), numeral(&u128::MAX.to_string()));
        assert_eq!(to_tree(&i128::MIN, |_| {}), numeral(&i128::MIN.to_string()));
        assert_eq!(to_tree(&Ratio(f64::NAN), |_| {}), numeral("NaN"));
        assert_eq!(
            to_tree(&Some(Id(u128::MAX)), |_| {}),
            numeral(&u128::MAX.to_string())
        );
        assert_eq!(to_tree(&f32::NEG_INFINITY, |_| {}), numeral("-Infinity"));
        for text in ["4111111111111111", "NaN", "-Infinity"] {
            assert_eq!(to_tree(text, |_| {}), Ok(Tree::Value(json!(text))));
            assert_eq!(
                to_tree(&format_args!("{text}"), |_| {}),
                Ok(Tree::Value(json!(text)))
            );
        }
        assert_eq!(to_tree(&7_u128, |_| {}), Ok(Tree::Value(json!(7))));
        assert_eq!(
            to_tree(&(Ratio(f64::NAN), "1"), |_| {}),
            Ok(Tree::Value(json!(["NaN", "1"])))
        );
    }

    #[test]
    fn non_finite_floats_and_wide_integers_become_strings_at_any_depth() {
        let tree = tree_of(&json!(null));
        assert_eq!(tree, Value::Null);
        let values = (
            vec![1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY],
            BTreeMap::from([("big", u128::MAX), ("small", 7)]),
            [i128::MIN, -3],
            f32::NAN,
        );
        assert_eq!(
            tree_of(&values),
            json!([
                [1.5, "NaN", "Infinity", "-Infinity"],
                {"big": u128::MAX.to_string(), "small": 7},
                [i128::MIN.to_string(), -3],
                "NaN",
            ])
        );
    }

    /// Regression: a list reserved the room its value announced, so a
    /// `Serialize` impl announcing `usize::MAX` items panicked the logging
    /// thread.
    #[test]
    fn a_list_announcing_more_items_than_it_has_does_not_panic() {
        struct Boastful {
            as_variant: bool,
        }
        impl serde::Serialize for Boastful {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::{SerializeSeq as _, SerializeTupleVariant as _};
                if self.as_variant {
                    let mut list =
                        serializer.serialize_tuple_variant("Boastful", 0, "many", usize::MAX)?;
                    list.serialize_field(&1)?;
                    list.end()
                } else {
                    let mut list = serializer.serialize_seq(Some(usize::MAX))?;
                    list.serialize_element(&1)?;
                    list.end()
                }
            }
        }
        let value = (
            Boastful { as_variant: false },
            Boastful { as_variant: true },
        );
        assert_eq!(tree_of(&value), json!([[1], {"many": [1]}]));
    }

    #[test]
    fn the_tree_matches_serde_json_where_json_can_hold_the_value() {
        #[derive(serde::Serialize)]
        enum Shape {
            Unit,
            Newtype(u8),
            Tuple(u8, bool),
            Struct { side: f64 },
        }
        #[derive(serde::Serialize)]
        struct Wrapper(&'static str);
        let value = (
            [Shape::Unit, Shape::Newtype(1), Shape::Tuple(2, true)],
            Shape::Struct { side: 0.5 },
            Wrapper("w"),
            BTreeMap::from([(1, 'c'), (2, 'd')]),
            Some(u64::MAX),
            None::<u8>,
            (),
        );
        assert_eq!(tree_of(&value), serde_json::to_value(&value).expect("JSON"));
    }

    /// Regression: with `serde_json`'s `arbitrary_precision` (which any
    /// crate in a build may turn on), a number inside a `serde_json::Value`
    /// became a one-key map, as did a `RawValue`.
    #[test]
    fn numbers_and_raw_values_serde_json_passes_as_text_are_read_back() {
        struct AsSerdeJsonPasses(&'static str, &'static str);
        impl serde::Serialize for AsSerdeJsonPasses {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct as _;
                let mut passed = serializer.serialize_struct(self.0, 1)?;
                passed.serialize_field(self.0, self.1)?;
                passed.end()
            }
        }
        let number = AsSerdeJsonPasses("$serde_json::private::Number", "60");
        let raw = AsSerdeJsonPasses("$serde_json::private::RawValue", r#"{"a":[1,true]}"#);
        assert_eq!(tree_of(&(number, raw)), json!([60, {"a": [1, true]}]));
    }

    /// Regression: a map with keys that were not text, numbers or bools
    /// failed whole, and its text (`Debug` or `Display`) was exported
    /// instead, secret-named keys inside it unredacted.
    #[test]
    fn a_map_key_that_is_not_text_is_its_json_text() {
        let map = BTreeMap::from([((1, 2), json!({"password": "hunter2"}))]);
        let tree = tree_of(&map);
        assert_eq!(tree, json!({"[1,2]": {"password": "hunter2"}}));
        let unit = BTreeMap::from([((), 1)]);
        assert_eq!(tree_of(&unit), json!({"null": 1}));
    }

    #[test]
    fn what_nests_deeper_than_the_bound_is_kept_as_json_text() {
        let mut deep = json!(1);
        for _ in 0..MAX_DEPTH + 2 {
            deep = json!({ "a": deep });
        }
        let tree = tree_of(&deep);
        let mut level = &tree;
        for _ in 0..MAX_DEPTH {
            level = &level["a"];
        }
        assert_eq!(level, &json!(r#"{"a":{"a":1}}"#));
    }

    /// A list nested `0` levels deep, made as it is serialized: a value
    /// that deep held in memory would overflow the stack when dropped.
    struct Nested(usize);

    impl Serialize for Nested {
        fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use ser::SerializeSeq as _;
            let mut list = serializer.serialize_seq(Some(1))?;
            if self.0 > 1 {
                list.serialize_element(&Nested(self.0 - 1))?;
            }
            list.end()
        }
    }

    /// Regression: the tree was built whole and cut at [`MAX_DEPTH`]
    /// afterwards, so a value nested a few thousand levels deep overflowed
    /// the logging thread's stack, which aborts the process.
    #[test]
    fn a_value_nested_thousands_of_levels_deep_is_cut_without_descending_into_it() {
        let tree = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(|| tree_of(&Nested(1_000_000)))
            .expect("a thread")
            .join()
            .expect("no stack overflow");
        // Levels 1 to 16 are lists, level 17 is the JSON text of the lists
        // of levels 17 to 64, the last of which holds the marker.
        let mut level = &tree;
        for _ in 0..MAX_DEPTH {
            level = &level[0];
        }
        let text = level.as_str().expect("the deeper levels as JSON text");
        let opened = MAX_TEXT_DEPTH - MAX_DEPTH;
        let expected = format!(
            "{}{}{}",
            "[".repeat(opened),
            serde_json::to_string(TOO_DEEP).expect("JSON"),
            "]".repeat(opened)
        );
        assert_eq!(text, expected);
    }

    /// A value whose `Serialize` impl always fails.
    struct Refused;

    impl Serialize for Refused {
        fn serialize<S: ser::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(ser::Error::custom("refused"))
        }
    }

    /// Regression: a value that failed after a part was cut for its depth
    /// was formatted instead, which descends into that part without bound.
    #[test]
    fn a_failure_after_a_part_cut_for_its_depth_says_the_value_is_too_deep_to_format() {
        assert_eq!(
            to_tree(&(Nested(1_000_000), Refused), |_| {}),
            Err(Unserializable::TooDeepToFormat)
        );
        // The list around them is the first level.
        assert_eq!(
            to_tree(&(Nested(MAX_TEXT_DEPTH), Refused), |_| {}),
            Err(Unserializable::TooDeepToFormat)
        );
        assert_eq!(
            to_tree(&(Nested(MAX_TEXT_DEPTH - 1), Refused), |_| {}),
            Err(Unserializable::Formattable)
        );
        assert_eq!(
            to_tree(&(Refused, Nested(MAX_TEXT_DEPTH + 1)), |_| {}),
            Err(Unserializable::Formattable),
            "the serializer stopped at the failure, before the deep part"
        );
    }

    /// A chain of `n` wrappers made as it is serialized: `Some`, a newtype
    /// and a newtype variant in turn, as a recursive enum nests.
    struct Wrapped(usize);

    impl Serialize for Wrapped {
        fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let inner = Wrapped(self.0.saturating_sub(1));
            match self.0 % 3 {
                _ if self.0 == 0 => serializer.serialize_str("end"),
                0 => serializer.serialize_some(&inner),
                1 => serializer.serialize_newtype_struct("Wrapper", &inner),
                _ => serializer.serialize_newtype_variant("Expr", 0, "Not", &inner),
            }
        }
    }

    /// Regression: `Some`, newtypes and newtype variants passed the depth
    /// on unchanged, so a recursive enum (`Not(Box<Expr>)`) nested deep
    /// enough overflowed the stack, past the bound on maps and lists.
    #[test]
    fn a_deep_chain_of_wrappers_is_cut_too() {
        let (tree, top) = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(|| {
                let tree = tree_of(&vec![Wrapped(1_000_000)]);
                let top = tree_of(&Wrapped(1_000_000));
                (tree, top)
            })
            .expect("a thread")
            .join()
            .expect("no stack overflow");
        assert_eq!(tree, json!([TOO_DEEP]));
        assert_eq!(top, json!(TOO_DEEP));
        // A short chain is kept as it is.
        assert_eq!(tree_of(&Wrapped(4)), json!({"Not": "end"}));
    }
}
