//! The agent's own tools that need no gateway: `web_fetch`, `terminal`, `read_file` and `write_file`.
