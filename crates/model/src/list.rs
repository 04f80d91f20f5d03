//! Settings that hold several values (allowlists, origins, chat ids).

use serde::{Deserialize, Deserializer};

/// Reads a YAML list of text or numbers, one number, or one text with
/// commas between the items (as in `.env` files). Items are trimmed and
/// empty ones dropped; numbers (chat and user ids) become their digits.
/// Use with `#[serde(deserialize_with = "hermod_model::deserialize_list")]`.
pub fn deserialize_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        Number(i64),
        Text(String),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<Item>),
        One(Item),
    }
    let items = match Raw::deserialize(d)? {
        Raw::List(items) => items,
        Raw::One(item) => vec![item],
    };
    Ok(items
        .into_iter()
        .flat_map(|item| match item {
            Item::Number(n) => vec![n.to_string()],
            Item::Text(text) => split_list(&text),
        })
        .collect())
}

/// `"a, b,,c"` → `["a", "b", "c"]`.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(deserialize_with = "deserialize_list")]
        ids: Vec<String>,
    }

    fn read(json: &str) -> Vec<String> {
        serde_json::from_str::<Holder>(json).unwrap().ids
    }

    #[test]
    fn lists_numbers_and_comma_text() {
        assert_eq!(read(r#"{"ids": ["a", " b ", ""]}"#), ["a", "b"]);
        assert_eq!(read(r#"{"ids": [12345, -100]}"#), ["12345", "-100"]);
        assert_eq!(read(r#"{"ids": 42}"#), ["42"]);
        assert_eq!(read(r#"{"ids": "1, 2,,3"}"#), ["1", "2", "3"]);
        assert!(serde_json::from_str::<Holder>(r#"{"ids": {"a": 1}}"#).is_err());
    }
}
