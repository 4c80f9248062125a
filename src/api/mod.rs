//! Wire types for the Kubernetes objects memhpa reads and writes.
//!
//! Only the fields memhpa uses are modelled; everything else the server sends is
//! ignored on decode. Optional fields are `Option` and are left out of what we
//! send, so a merge patch or PUT never clears a field we did not mean to touch.

mod meta;
mod objects;
mod quantity;
mod spec;

pub use meta::{
    ListMeta, ObjectList, ObjectMeta, ObjectReference, Status, StatusCause, StatusDetails,
    WatchEvent,
};
pub use objects::{
    Container, Event, EventSource, Lease, LeaseSpec, Pod, PodSpec, PodStatus, ResourceRequirements,
    Scale, ScaleSpec, ScaleStatus,
};
pub use quantity::{is_byte_count, parse_quantity, QuantityError, QuantityErrorKind, MAX_BYTES};
pub use spec::{
    Basis, Behavior, Condition, CrossVersionObjectReference, DecisionLimit, DecisionPods,
    DecisionWindow, LastDecision, MemHpa, MemHpaSpec, MemHpaStatus, NamedPod, ScalingPolicy,
    ScalingRules,
};

/// The API group and version of our custom resource.
pub const GROUP: &str = "memhpa.io";
pub const VERSION: &str = "v1";
pub const KIND: &str = "MemHpa";
pub const PLURAL: &str = "memhpas";
