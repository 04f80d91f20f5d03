//! The crate dependency direction of ARCHITECTURE.md, checked with
//! `cargo metadata`: cli → platforms registry → adapters → adapter kit →
//! core → {agent, store} → model, and nothing pointing back up.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn workspace_deps() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: Value = serde_json::from_slice(&output.stdout).unwrap();
    let members: BTreeSet<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                // Normal dependencies only: tests may use anything.
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|n| members.contains(n))
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

#[test]
fn dependencies_point_one_way() {
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("hermod-model", &[][..]),
        ("hermod-http", &[][..]),
        // System calls std lacks; the only crate with unsafe code.
        ("hermod-sys", &[][..]),
        ("hermod-store", &["hermod-model"][..]),
        ("hermod-render", &["hermod-model"][..]),
        ("hermod-agent", &["hermod-model", "hermod-http"][..]),
        (
            "hermod-core",
            &[
                "hermod-model",
                "hermod-store",
                "hermod-agent",
                "hermod-http",
            ][..],
        ),
        // What the model is given of a message's files; it names no platform.
        (
            "hermod-media",
            &[
                "hermod-core",
                "hermod-model",
                "hermod-store",
                "hermod-agent",
            ][..],
        ),
        // The agent's own tools that need no gateway: web, shell, files.
        (
            "hermod-tools",
            &["hermod-model", "hermod-agent", "hermod-http"][..],
        ),
        // Tools from MCP servers, offered through the agent's tool registry.
        (
            "hermod-mcp",
            &["hermod-model", "hermod-agent", "hermod-http"][..],
        ),
        // An external agent over the Agent Client Protocol: a second
        // implementation of the agent trait.
        (
            "hermod-acp",
            &["hermod-model", "hermod-agent", "hermod-store"][..],
        ),
        // What every adapter shares; it names no platform.
        (
            "hermod-adapter-kit",
            &[
                "hermod-core",
                "hermod-model",
                "hermod-store",
                "hermod-http",
                "hermod-render",
            ][..],
        ),
        (
            "hermod-testkit",
            &[
                "hermod-model",
                "hermod-agent",
                "hermod-store",
                "hermod-http",
                "hermod-core",
            ][..],
        ),
    ]);
    for (name, deps) in workspace_deps() {
        if name == "hermod-bench" {
            // The benchmark harness drives the binary with the test fakes;
            // nothing depends on it.
            assert!(
                deps.iter().all(|d| d != "hermod"),
                "the harness runs the binary, it does not link it"
            );
            continue;
        }
        if name == "hermod-platforms" {
            // The registry: the shared crates and any platform, so a new
            // platform needs no change here.
            for dep in &deps {
                let shared =
                    ["hermod-core", "hermod-model", "hermod-store"].contains(&dep.as_str());
                let platform = !allowed.contains_key(dep.as_str())
                    && !["hermod", "hermod-bench", "hermod-adapter-kit"].contains(&dep.as_str());
                assert!(shared || platform, "the registry must not depend on {dep}");
            }
            continue;
        }
        if name == "hermod" {
            assert!(
                !deps.contains("hermod-testkit"),
                "the binary must not ship test fakes"
            );
            continue;
        }
        if name.starts_with("hermod-") && !allowed.contains_key(name.as_str()) {
            // A platform adapter: the shared crates only, never another adapter.
            for dep in &deps {
                assert!(
                    [
                        "hermod-core",
                        "hermod-model",
                        "hermod-agent",
                        "hermod-http",
                        "hermod-store",
                        "hermod-render",
                        "hermod-adapter-kit",
                    ]
                    .contains(&dep.as_str()),
                    "adapter {name} depends on {dep}"
                );
            }
            continue;
        }
        let ok = allowed[name.as_str()];
        for dep in &deps {
            assert!(
                ok.contains(&dep.as_str()),
                "{name} must not depend on {dep}"
            );
        }
    }
}
