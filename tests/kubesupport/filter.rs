//! The `labelSelector` and `fieldSelector` of a list or watch, together.

use serde_json::Value;

use super::fields::{self, FieldSelector};
use super::http::Request;
use super::selector::{self, Selector};
use super::status::{self, Failure};

#[derive(Debug, Clone, Default)]
pub struct Filter {
    labels: Selector,
    fields: FieldSelector,
}

impl Filter {
    /// Both selectors of `request`; a malformed one is 400 BadRequest.
    pub fn of(request: &Request) -> Result<Filter, Failure> {
        let labels = selector::parse(&request.param("labelSelector").unwrap_or_default())
            .map_err(|err| status::bad_request(format!("unable to parse requirement: {err}")))?;
        let fields = fields::parse(&request.param("fieldSelector").unwrap_or_default())
            .map_err(status::bad_request)?;
        Ok(Filter { labels, fields })
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        self.labels.matches(labels) && self.fields.matches(object)
    }
}
