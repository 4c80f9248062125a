//! Reading a scenario's JSON as it streams by, so that nothing is built that
//! will be refused: the big parts (steps, pods, containers) are read element by
//! element into their typed form by a [`Part`], every other field is kept as a
//! `serde_json::Value` of at most [`MAX_FIELD_VALUES`] values, and an unknown or
//! repeated key is refused as soon as it is read.
//!
//! serde errors carry only text, and serde_json appends a line and column to
//! it; a refusal is therefore parked in the [`Ctx`] and the serde error only
//! unwinds the parser, so the message the user sees is exactly the `Invalid`.

use super::scenario::{join, Invalid, R};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::{Cell, RefCell};
use std::fmt;

/// Most JSON values one plain field may hold (a spec counts all its nested
/// values): a valid spec needs a few hundred, and junk stops here.
pub const MAX_FIELD_VALUES: usize = 10_000;

/// What a parse shares across its parts: the refusal, once there is one, and
/// the budget of the plain field being read (plain fields are read one at a
/// time, each to its end, so one budget serves them all in turn).
#[derive(Default)]
pub struct Ctx {
    refusal: RefCell<Option<Invalid>>,
    field_budget: Cell<usize>,
}

impl Ctx {
    /// Parks `invalid` and returns the serde error that unwinds the parser.
    pub fn refuse<E: de::Error>(&self, invalid: Invalid) -> E {
        let mut slot = self.refusal.borrow_mut();
        // The first refusal is the one to report; serde may wrap it on the way out.
        if slot.is_none() {
            *slot = Some(invalid);
        }
        E::custom("scenario refused")
    }

    pub fn check<T, E: de::Error>(&self, result: R<T>) -> Result<T, E> {
        result.map_err(|invalid| self.refuse(invalid))
    }
}

/// Parses `text` as one JSON document read by `part`.
pub fn parse<'t, P: Part<'t>>(text: &'t str, part: P) -> R<P::Out> {
    let ctx = Ctx::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let read = Reader { ctx: &ctx, part }
        .deserialize(&mut de)
        .and_then(|out| de.end().map(|()| out));
    read.map_err(|e| {
        ctx.refusal
            .take()
            .unwrap_or_else(|| Invalid(format!("invalid JSON: {e}")))
    })
}

/// One part of the document, read in its own shape (an object or an array);
/// a value of any other shape arrives whole, bounded, for the error message.
pub trait Part<'de>: Sized {
    type Out;

    /// Where the part is (`steps[3].pods`), for messages.
    fn path(&self) -> &str;

    /// The part's answer to a value of the wrong shape: always an `Invalid`.
    fn other(self, got: Value) -> R<Self::Out>;

    fn map<A: MapAccess<'de>>(self, ctx: &Ctx, map: A) -> Result<Self::Out, A::Error> {
        let got = Bounded::field(ctx, At::Path(self.path())).visit_map(map)?;
        ctx.check(self.other(got))
    }

    fn seq<A: SeqAccess<'de>>(self, ctx: &Ctx, seq: A) -> Result<Self::Out, A::Error> {
        let got = Bounded::field(ctx, At::Path(self.path())).visit_seq(seq)?;
        ctx.check(self.other(got))
    }
}

/// Feeds whatever the parser finds to a [`Part`].
pub struct Reader<'c, P> {
    pub ctx: &'c Ctx,
    pub part: P,
}

impl<'de, P: Part<'de>> DeserializeSeed<'de> for Reader<'_, P> {
    type Value = P::Out;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<P::Out, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, P: Part<'de>> Reader<'_, P> {
    fn scalar<E: de::Error>(self, got: Value) -> Result<P::Out, E> {
        self.ctx.check(self.part.other(got))
    }
}

impl<'de, P: Part<'de>> Visitor<'de> for Reader<'_, P> {
    type Value = P::Out;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<P::Out, A::Error> {
        self.part.map(self.ctx, map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<P::Out, A::Error> {
        self.part.seq(self.ctx, seq)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<P::Out, E> {
        self.scalar(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<P::Out, E> {
        self.scalar(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<P::Out, E> {
        self.scalar(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<P::Out, E> {
        self.scalar(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<P::Out, E> {
        self.scalar(Value::String(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<P::Out, E> {
        self.scalar(Value::Null)
    }
}

/// Where a plain field is: a whole path, or a key below one. Joined only
/// for a message or a nested value, so a field read costs no allocation.
#[derive(Clone, Copy)]
enum At<'a> {
    Path(&'a str),
    Key(&'a str, &'a str),
}

impl At<'_> {
    fn path(self) -> String {
        match self {
            At::Path(path) => path.to_string(),
            At::Key(parent, key) => join(parent, key),
        }
    }

    /// The path for a message that starts with it; the root has none.
    fn named(self) -> String {
        match self.path() {
            root if root.is_empty() => "the document".to_string(),
            path => path,
        }
    }
}

/// A plain field read into a `Value`, refused past [`MAX_FIELD_VALUES`] values
/// and on a repeated key (serde_json would keep the last one silently).
pub struct Bounded<'a> {
    ctx: &'a Ctx,
    field: At<'a>,
    /// The path below the field, for a value nested in it.
    below: Option<String>,
}

impl<'a> Bounded<'a> {
    /// One plain field, with a fresh budget.
    fn field(ctx: &'a Ctx, field: At<'a>) -> Bounded<'a> {
        ctx.field_budget.set(MAX_FIELD_VALUES);
        Bounded {
            ctx,
            field,
            below: None,
        }
    }

    fn path(&self) -> String {
        self.below.clone().unwrap_or_else(|| self.field.path())
    }

    fn nested(&self, below: String) -> Bounded<'a> {
        Bounded {
            ctx: self.ctx,
            field: self.field,
            below: Some(below),
        }
    }

    fn take_one<E: de::Error>(&self) -> Result<(), E> {
        let left = &self.ctx.field_budget;
        match left.get() {
            0 => Err(self.ctx.refuse(Invalid(format!(
                "{}: expected a small value, got more than {MAX_FIELD_VALUES} JSON values",
                self.field.named()
            )))),
            n => {
                left.set(n - 1);
                Ok(())
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.take_one()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.take_one()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.take_one()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.take_one()?;
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.take_one()?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.take_one()?;
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.take_one()?;
        let path = self.path();
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.nested(format!("{path}[{}]", out.len())))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.take_one()?;
        let path = self.path();
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let at = join(&path, &key);
            if out.contains_key(&key) {
                return Err(self.ctx.refuse(duplicate(&at)));
            }
            let v = map.next_value_seed(self.nested(at))?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

fn duplicate(path: &str) -> Invalid {
    Invalid(format!("{path}: duplicate key (each key may appear once)"))
}

/// An object's entries, read one by one: a key not in `allowed`, or given
/// twice, is refused as soon as it is read. `stream` reads the value of a key
/// it wants (returning true); every other value is kept, bounded.
pub fn entries<'de, 'k, A: MapAccess<'de>>(
    ctx: &Ctx,
    path: &str,
    allowed: &[&'k str],
    mut map: A,
    mut stream: impl FnMut(&'k str, &mut A) -> Result<bool, A::Error>,
) -> Result<Map<String, Value>, A::Error> {
    let mut out = Map::new();
    let mut seen = vec![false; allowed.len()];
    while let Some(key) = map.next_key_seed(KeyOf(allowed))? {
        let i = match key {
            Key::Known(i) => i,
            Key::Unknown(key) => {
                return Err(ctx.refuse(Invalid(format!(
                    "{}: unknown key (expected one of: {})",
                    join(path, &key),
                    allowed.join(", ")
                ))))
            }
        };
        let key = allowed[i];
        if std::mem::replace(&mut seen[i], true) {
            return Err(ctx.refuse(duplicate(&join(path, key))));
        }
        if !stream(key, &mut map)? {
            let v = map.next_value_seed(Bounded::field(ctx, At::Key(path, key)))?;
            out.insert(key.to_string(), v);
        }
    }
    Ok(out)
}

/// A key read against a fixed set: its index there, or the key itself.
enum Key {
    Known(usize),
    Unknown(String),
}

struct KeyOf<'a, 'k>(&'a [&'k str]);

impl<'de> DeserializeSeed<'de> for KeyOf<'_, '_> {
    type Value = Key;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyOf<'_, '_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match self.0.iter().position(|k| *k == key) {
            Some(i) => Key::Known(i),
            None => Key::Unknown(key.to_string()),
        })
    }
}

/// An array of at most `max` elements, each read by `read(index)`. Past `max`
/// the rest is only counted (nothing kept), for the message.
pub fn elements<'de, A: SeqAccess<'de>, T>(
    ctx: &Ctx,
    path: &str,
    max: usize,
    mut seq: A,
    mut read: impl FnMut(&mut A, usize) -> Result<Option<T>, A::Error>,
) -> Result<Vec<T>, A::Error> {
    let mut out = Vec::new();
    loop {
        if out.len() == max {
            let mut more = 0usize;
            while seq.next_element::<IgnoredAny>()?.is_some() {
                more += 1;
            }
            if more == 0 {
                return Ok(out);
            }
            return Err(ctx.refuse(Invalid(format!(
                "{path}: expected at most {max} entries, got {}",
                max + more
            ))));
        }
        match read(&mut seq, out.len())? {
            Some(item) => out.push(item),
            None => return Ok(out),
        }
    }
}
