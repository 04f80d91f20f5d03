//! What every hermod platform adapter shares, so a new platform is its own
//! protocol and little else.
