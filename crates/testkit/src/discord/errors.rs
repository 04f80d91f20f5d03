//! Discord's error answers: `{"message": .., "code": ..}` with a JSON
//! error code (Opcodes and Status Codes, "JSON Error Codes"), and the
//! form-error shape `{"code": 50035, "message": "Invalid Form Body",
//! "errors": {<path>: {"_errors": [{"code", "message"}]}}}` (Reference,
//! "Error Messages"). Wordings are Discord's as its API answers them.

use serde_json::{Map, Value, json};

/// One error answer: an HTTP status and its JSON body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl ApiError {
    /// `{"message": message, "code": code}`.
    pub(crate) fn new(status: u16, code: u64, message: &str) -> Self {
        Self {
            status,
            body: json!({"message": message, "code": code}),
        }
    }

    /// A wrong or missing `Authorization` header.
    pub(crate) fn unauthorized() -> Self {
        Self::new(401, 0, "401: Unauthorized")
    }

    /// A path no route matches.
    pub(crate) fn not_found() -> Self {
        Self::new(404, 0, "404: Not Found")
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(405, 0, "405: Method Not Allowed")
    }

    pub(crate) fn unknown_channel() -> Self {
        Self::new(404, 10003, "Unknown Channel")
    }

    pub(crate) fn unknown_message() -> Self {
        Self::new(404, 10008, "Unknown Message")
    }

    pub(crate) fn unknown_emoji() -> Self {
        Self::new(400, 10014, "Unknown Emoji")
    }

    pub(crate) fn unknown_webhook() -> Self {
        Self::new(404, 10015, "Unknown Webhook")
    }

    pub(crate) fn unknown_interaction() -> Self {
        Self::new(404, 10062, "Unknown interaction")
    }

    pub(crate) fn missing_access() -> Self {
        Self::new(403, 50001, "Missing Access")
    }

    pub(crate) fn empty_message() -> Self {
        Self::new(400, 50006, "Cannot send an empty message")
    }

    pub(crate) fn already_acknowledged() -> Self {
        Self::new(400, 40060, "Interaction has already been acknowledged.")
    }

    pub(crate) fn invalid_json() -> Self {
        Self::new(400, 50109, "The request body contains invalid JSON.")
    }

    /// 5xx, as Discord's API answers them (`{"message": "500: Internal
    /// Server Error", "code": 0}`).
    pub(crate) fn server_error(status: u16) -> Self {
        let reason = match status {
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Server Error",
        };
        Self::new(status, 0, &format!("{status}: {reason}"))
    }

    /// 400 `Invalid Form Body` with one error at `path` (dot-separated,
    /// empty for the body itself), e.g. `content` or `3.name`.
    pub(crate) fn form(path: &str, code: &str, message: &str) -> Self {
        FormErrors::new().at(path, code, message).into_error()
    }
}

/// Collects form errors into Discord's nested `errors` object.
#[derive(Debug, Default)]
pub(crate) struct FormErrors {
    errors: Map<String, Value>,
}

impl FormErrors {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Adds an error at the dot-separated `path`.
    pub(crate) fn at(mut self, path: &str, code: &str, message: &str) -> Self {
        self.add(path, code, message);
        self
    }

    pub(crate) fn add(&mut self, path: &str, code: &str, message: &str) {
        let mut node = &mut self.errors;
        for key in path.split('.').filter(|k| !k.is_empty()) {
            let entry = node
                .entry(key.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            node = match entry {
                Value::Object(map) => map,
                _ => unreachable!("made an object just above"),
            };
        }
        let list = node
            .entry("_errors".to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.push(json!({"code": code, "message": message}));
        }
    }

    pub(crate) fn into_error(self) -> ApiError {
        ApiError {
            status: 400,
            body: json!({
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": Value::Object(self.errors),
            }),
        }
    }
}

/// `Must be between {min} and {max} in length.`
pub(crate) fn bad_length(min: usize, max: usize) -> String {
    format!("Must be between {min} and {max} in length.")
}

/// `Must be {max} or fewer in length.`
pub(crate) fn max_length(max: usize) -> String {
    format!("Must be {max} or fewer in length.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_errors_nest_like_discords() {
        let error = ApiError::form("content", "BASE_TYPE_MAX_LENGTH", &max_length(2000));
        assert_eq!(error.status, 400);
        assert_eq!(
            error.body,
            json!({
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": {"content": {"_errors": [
                    {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
                ]}},
            })
        );
        let root = ApiError::form("", "BASE_TYPE_MAX_LENGTH", &max_length(130));
        assert_eq!(
            root.body["errors"],
            json!({"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 130 or fewer in length."}]})
        );
        let nested = FormErrors::new()
            .at(
                "3.name",
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            )
            .at("3.description", "BASE_TYPE_BAD_LENGTH", &bad_length(1, 100))
            .into_error();
        assert_eq!(
            nested.body["errors"]["3"]["name"]["_errors"][0]["code"],
            "APPLICATION_COMMAND_INVALID_NAME"
        );
        assert_eq!(
            nested.body["errors"]["3"]["description"]["_errors"][0]["message"],
            "Must be between 1 and 100 in length."
        );
    }
}
