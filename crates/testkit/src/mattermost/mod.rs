//! A fake Mattermost server (REST v4 and the WebSocket event stream),
//! built from the Mattermost API reference.
