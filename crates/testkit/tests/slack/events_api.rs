//! The Events API.
