//! hermod's runtime: adapters, the router and session workers, and shutdown.
