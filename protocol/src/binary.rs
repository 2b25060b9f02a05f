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

    /// Adds a buffer and returns the placeholder to put where it belongs in the arguments.
    pub fn push_binary(&mut self, data: impl Into<Bytes>) -> Value {
        self.attachments.push(data.into());
        placeholder(self.attachments.len() - 1)
    }

    /// Appends one argument.
    pub fn push_arg(&mut self, arg: Value) {
        self.args.push(arg);
    }

    /// The buffer a placeholder value stands for, if `value` is a valid placeholder.
    pub fn binary_of(&self, value: &Value) -> Option<&Bytes> {
        let num = placeholder_num(value)?;
        usize::try_from(num)
            .ok()
            .and_then(|n| self.attachments.get(n))
    }
}

/// The `num` of a placeholder object, or `None` if `value` is not a placeholder.
fn placeholder_num(value: &Value) -> Option<i64> {
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
