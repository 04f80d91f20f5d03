//! A fake of the Slack API: Socket Mode, the Events API and the Web API.
