//! `fake-acp-agent`: the scripted ACP agent of [`hermod_testkit::acp`], run
//! with `HERMOD_FAKE_ACP_SCRIPT=<script.json>`.

#[tokio::main(flavor = "current_thread")]
#[expect(clippy::print_stderr, reason = "a command-line program's usage error")]
async fn main() {
    let Some(script) = std::env::var_os(hermod_testkit::acp::SCRIPT_ENV) else {
        eprintln!(
            "fake-acp-agent: set {} to a script written by FakeAcpScript::write",
            hermod_testkit::acp::SCRIPT_ENV
        );
        std::process::exit(2);
    };
    hermod_testkit::acp::run(std::path::Path::new(&script)).await;
}
