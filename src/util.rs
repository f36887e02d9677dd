//! Small shared helpers that belong to no single layer.
