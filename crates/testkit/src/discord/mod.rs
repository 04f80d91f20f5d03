//! A fake of the Discord API: the gateway websocket and the REST API.
