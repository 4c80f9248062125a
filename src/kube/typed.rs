//! The apiVersion and kind of each object memhpa writes, in one place: a
//! body sent without them is refused by the API server.

use crate::api::{Event, Lease, MemHpa, Scale, KIND};
#[cfg(test)]
use crate::api::{GROUP, VERSION};

/// An object with its type on the wire.
pub(crate) trait Typed: Clone {
    const API_VERSION: &'static str;
    const KIND: &'static str;

    fn type_fields(&mut self) -> (&mut Option<String>, &mut Option<String>);

    /// Fills in apiVersion and kind where they are missing; a caller's own
    /// values are kept.
    fn fill_type(&mut self) {
        let (api_version, kind) = self.type_fields();
        api_version.get_or_insert_with(|| Self::API_VERSION.to_string());
        kind.get_or_insert_with(|| Self::KIND.to_string());
    }

    /// A copy to send, typed.
    fn typed(&self) -> Self {
        let mut body = self.clone();
        body.fill_type();
        body
    }
}

macro_rules! typed {
    ($type:ty, $api_version:expr, $kind:expr) => {
        impl Typed for $type {
            const API_VERSION: &'static str = $api_version;
            const KIND: &'static str = $kind;

            fn type_fields(&mut self) -> (&mut Option<String>, &mut Option<String>) {
                (&mut self.api_version, &mut self.kind)
            }
        }
    };
}

// `{GROUP}/{VERSION}`, which a const cannot format; a test holds them equal.
typed!(MemHpa, "memhpa.io/v1", KIND);
typed!(Scale, "autoscaling/v1", "Scale");
typed!(Event, "v1", "Event");
typed!(Lease, "coordination.k8s.io/v1", "Lease");

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn missing_type_is_filled_and_a_given_one_kept() {
        let scale: Scale = serde_json::from_value(serde_json::json!({"spec": {}})).expect("scale");
        let typed = scale.typed();
        assert_eq!(typed.api_version.as_deref(), Some("autoscaling/v1"));
        assert_eq!(typed.kind.as_deref(), Some("Scale"));
        let mut hpa = MemHpa {
            kind: Some("Other".into()),
            ..MemHpa::default()
        };
        hpa.fill_type();
        assert_eq!(hpa.api_version.as_deref(), Some("memhpa.io/v1"));
        assert_eq!(hpa.kind.as_deref(), Some("Other"));
    }

    #[test]
    fn memhpa_api_version_is_group_and_version() {
        assert_eq!(MemHpa::API_VERSION, format!("{GROUP}/{VERSION}"));
    }
}
