//! The list of hermod's platform adapters, one Cargo feature each.
