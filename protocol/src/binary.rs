//! Binary attachments: the `{"_placeholder":true,"num":i}` objects that stand in the JSON for
//! buffers carried in separate frames, and the [`Payload`] that keeps both together.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::ProtocolError;

/// The JSON object that stands for attachment `num`.
pub fn placeholder(num: usize) -> Value {
    json!({ "_placeholder": true, "num": num })
}

/// Event arguments (or ack arguments) with their binary attachments.
///
/// `args` is a JSON array; any buffer in it is a [`placeholder`] whose `num` indexes
/// `attachments`. Echoing a payload back therefore needs no re-encoding of the buffers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Payload {
    /// The arguments, always a JSON array.
    pub args: Vec<Value>,
    /// The buffers the placeholders refer to, in order.
    pub attachments: Vec<Bytes>,
}

impl Payload {
    /// A payload of plain JSON arguments.
    pub fn new(args: Vec<Value>) -> Self {
        Payload {
            args,
            attachments: Vec::new(),
        }
    }

    /// Whether every placeholder in the arguments points at one of the attachments, as the
    /// decoder demands of a client's binary packet (socket.io-client closes a connection
    /// that gets a packet with one pointing nowhere).
    pub fn placeholders_valid(&self) -> bool {
        let count = self.attachments.len();
        self.args
            .iter()
            .all(|arg| check_placeholders(arg, count).is_ok())
    }

    /// Adds a buffer and returns the placeholder to put where it belongs in the arguments.
    pub fn push_binary(&mut self, data: impl Into<Bytes>) -> Value {
        self.attachments.push(data.into());
        placeholder(self.attachments.len() - 1)
    }

    /// Appends one argument.
    pub fn push_arg(&mut self, arg: Value) {
        self.args.push(arg);
    }

    /// A payload of `args`, values taken out of this payload's arguments, with only the
    /// buffers their placeholders stand for, renumbered in the order they appear (a buffer
    /// named twice is kept once). A placeholder that points nowhere is left as it is.
    pub fn select(&self, mut args: Vec<Value>) -> Payload {
        if self.attachments.is_empty() {
            return Payload::new(args);
        }
        let mut selection = Selection {
            from: &self.attachments,
            renumbered: vec![None; self.attachments.len()],
            kept: Vec::new(),
        };
        for arg in &mut args {
            selection.renumber(arg);
        }
        Payload {
            args,
            attachments: selection.kept,
        }
    }

    /// The buffer a placeholder value stands for, if `value` is a valid placeholder.
    pub fn binary_of(&self, value: &Value) -> Option<&Bytes> {
        let num = placeholder_num(value)?;
        usize::try_from(num)
            .ok()
            .and_then(|n| self.attachments.get(n))
    }
}

/// The buffers [`Payload::select`] keeps, and the new number of each one kept.
struct Selection<'a> {
    from: &'a [Bytes],
    renumbered: Vec<Option<usize>>,
    kept: Vec<Bytes>,
}

impl Selection<'_> {
    fn renumber(&mut self, value: &mut Value) {
        if let Some(num) = placeholder_num(value) {
            let Some(old) = usize::try_from(num).ok().filter(|n| *n < self.from.len()) else {
                return;
            };
            let new = match self.renumbered[old] {
                Some(new) => new,
                None => {
                    self.kept.push(self.from[old].clone());
                    self.renumbered[old] = Some(self.kept.len() - 1);
                    self.kept.len() - 1
                }
            };
            *value = placeholder(new);
            return;
        }
        match value {
            Value::Array(items) => items.iter_mut().for_each(|v| self.renumber(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.renumber(v)),
            _ => {}
        }
    }
}

/// The `num` of a placeholder object, or `None` if `value` is not a placeholder.
pub(crate) fn placeholder_num(value: &Value) -> Option<i64> {
    let obj = value.as_object()?;
    if obj.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    Some(obj.get("num").and_then(Value::as_i64).unwrap_or(-1))
}

/// Checks that every placeholder in `value` points at one of `count` attachments.
pub(crate) fn check_placeholders(value: &Value, count: usize) -> Result<(), ProtocolError> {
    if let Some(num) = placeholder_num(value) {
        return match usize::try_from(num) {
            Ok(n) if n < count => Ok(()),
            _ => Err(ProtocolError::BadPlaceholder(num)),
        };
    }
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| check_placeholders(v, count)),
        Value::Object(map) => map.values().try_for_each(|v| check_placeholders(v, count)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_shape() {
        assert_eq!(placeholder(3), json!({"_placeholder": true, "num": 3}));
    }

    #[test]
    fn push_binary_numbers_buffers_in_order() {
        let mut payload = Payload::new(vec![json!("a")]);
        let first = payload.push_binary(&b"one"[..]);
        let second = payload.push_binary(Bytes::from_static(b"two"));
        assert_eq!(first, placeholder(0));
        assert_eq!(second, placeholder(1));
        payload.push_arg(first.clone());
        payload.push_arg(json!({"nested": second.clone()}));
        assert_eq!(payload.args.len(), 3);
        assert_eq!(payload.attachments.len(), 2);
        assert_eq!(payload.binary_of(&first).map(|b| &b[..]), Some(&b"one"[..]));
        assert_eq!(
            payload.binary_of(&second).map(|b| &b[..]),
            Some(&b"two"[..])
        );
    }

    #[test]
    fn binary_of_refuses_non_placeholders() {
        let mut payload = Payload::default();
        payload.push_binary(vec![1u8]);
        assert_eq!(payload.binary_of(&json!("x")), None);
        assert_eq!(payload.binary_of(&json!([0])), None);
        assert_eq!(payload.binary_of(&json!({"num": 0})), None);
        assert_eq!(
            payload.binary_of(&json!({"_placeholder": "true", "num": 0})),
            None
        );
        assert_eq!(
            payload.binary_of(&json!({"_placeholder": false, "num": 0})),
            None
        );
        // Placeholders that point nowhere.
        assert_eq!(payload.binary_of(&placeholder(1)), None);
        assert_eq!(
            payload.binary_of(&json!({"_placeholder": true, "num": -1})),
            None
        );
        assert_eq!(payload.binary_of(&json!({"_placeholder": true})), None);
        assert_eq!(
            payload.binary_of(&json!({"_placeholder": true, "num": "0"})),
            None
        );
        assert!(payload.binary_of(&placeholder(0)).is_some());
    }

    #[test]
    fn select_keeps_and_renumbers_only_the_buffers_named() {
        let mut payload = Payload::default();
        let zero = payload.push_binary(&b"zero"[..]);
        let one = payload.push_binary(&b"one"[..]);
        let two = payload.push_binary(&b"two"[..]);
        payload.push_arg(json!({"room": "r", "skip": zero, "data": {"a": two, "b": [one, two]}}));
        let data = payload.args[0]["data"].clone();
        let selected = payload.select(vec![data]);
        assert_eq!(
            selected.args,
            vec![json!({"a": placeholder(0), "b": [placeholder(1), placeholder(0)]})]
        );
        let kept: Vec<&[u8]> = selected.attachments.iter().map(|b| &b[..]).collect();
        assert_eq!(kept, vec![&b"two"[..], &b"one"[..]]);
        // Plain JSON, and a placeholder pointing nowhere, stay as they are.
        let stray = json!({"_placeholder": true, "num": 9});
        let plain = payload.select(vec![json!("x"), stray.clone()]);
        assert_eq!(plain.args, vec![json!("x"), stray]);
        assert!(plain.attachments.is_empty());
        assert_eq!(
            Payload::new(vec![json!(1)]).select(vec![json!(2)]),
            Payload::new(vec![json!(2)])
        );
    }

    #[test]
    fn new_payload_has_no_attachments() {
        let payload = Payload::new(vec![json!(1)]);
        assert_eq!(payload.args, vec![json!(1)]);
        assert!(payload.attachments.is_empty());
    }

    #[test]
    fn placeholder_num_reads_the_index() {
        assert_eq!(placeholder_num(&placeholder(7)), Some(7));
        assert_eq!(placeholder_num(&json!({"_placeholder": true})), Some(-1));
        assert_eq!(
            placeholder_num(&json!({"_placeholder": true, "num": 1.5})),
            Some(-1)
        );
        assert_eq!(placeholder_num(&json!({"num": 1})), None);
        assert_eq!(placeholder_num(&json!(null)), None);
    }

    #[test]
    fn check_placeholders_walks_arrays_and_objects() {
        let ok = json!(["e", {"a": [1, placeholder(1)], "b": placeholder(0)}, "s", 2, null]);
        assert_eq!(check_placeholders(&ok, 2), Ok(()));
        assert_eq!(
            check_placeholders(&ok, 1),
            Err(ProtocolError::BadPlaceholder(1))
        );
        let deep = json!({"x": {"y": [[{"_placeholder": true, "num": -4}]]}});
        assert_eq!(
            check_placeholders(&deep, 5),
            Err(ProtocolError::BadPlaceholder(-4))
        );
        let missing = json!([{"_placeholder": true}]);
        assert_eq!(
            check_placeholders(&missing, 5),
            Err(ProtocolError::BadPlaceholder(-1))
        );
        assert_eq!(check_placeholders(&json!("plain"), 0), Ok(()));
        // A placeholder replaces the whole object: what it contains is not looked at.
        let inside = json!({"_placeholder": true, "num": 0, "more": placeholder(9)});
        assert_eq!(check_placeholders(&inside, 1), Ok(()));
    }
}
