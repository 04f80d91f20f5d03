//! web_fetch against a local server. Loopback is refused by design, so
//! fetching is tested with `allow_private` (or `allow_hosts`), and the
//! guard with its defaults.

use crate::support::ctx;
use axum::Router;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use hermod_agent::Tool;
use hermod_tools::{WebFetch, WebFetchConfig};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

const PAGE: &str = "<!doctype html><html><head><title>Local page</title>\
<script>alert('no')</script><style>p{}</style></head>\
<body><h1>Hello</h1><p>Some <a href='/x'>linked</a> text &amp; more.</p></body></html>";

async fn serve() -> SocketAddr {
    let app = Router::new()
        .route(
            "/page",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
        )
        .route("/text", get(|| async { "plain text\n  kept   as is\n" }))
        .route(
            "/json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"a": [1, 2]}"#,
                )
            }),
        )
        .route(
            "/image",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    vec![0x89u8, b'P', b'N', b'G', 0, 0],
                )
            }),
        )
        .route(
            "/unlabelled",
            get(|| async { Response::new(axum::body::Body::from(vec![0u8, 1, 2, 3])) }),
        )
        .route("/big", get(|| async { "x".repeat(10_000) }))
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "no such page") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "late"
            }),
        )
        .route(
            "/redirect",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                Redirect::temporary(&q["to"]).into_response()
            }),
        )
        .route("/loop", get(|| async { Redirect::temporary("/loop") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn open() -> WebFetchConfig {
    WebFetchConfig {
        allow_private: true,
        ..WebFetchConfig::default()
    }
}

async fn fetch(tool: &WebFetch, url: &str) -> Result<String, String> {
    tool.call(json!({"url": url}), ctx()).await
}

#[tokio::test]
async fn html_is_reduced_to_its_text() {
    let addr = serve().await;
    let tool = open().build().unwrap();
    let out = fetch(&tool, &format!("http://{addr}/page")).await.unwrap();
    assert_eq!(
        out,
        format!(
            "URL: http://{addr}/page\nStatus: 200 OK\nContent-Type: text/html; charset=utf-8\n\n\
             Local page\n\n# Hello\nSome linked text & more."
        )
    );
}

#[tokio::test]
async fn text_and_json_come_as_they_are() {
    let addr = serve().await;
    let tool = open().build().unwrap();
    let text = fetch(&tool, &format!("http://{addr}/text")).await.unwrap();
    assert!(text.ends_with("\n\nplain text\n  kept   as is\n"), "{text}");
    let data = fetch(&tool, &format!("http://{addr}/json")).await.unwrap();
    assert!(
        data.contains("Content-Type: application/json\n\n{\"a\": [1, 2]}"),
        "{data}"
    );
}

#[tokio::test]
async fn other_content_is_refused() {
    let addr = serve().await;
    let tool = open().build().unwrap();
    let err = fetch(&tool, &format!("http://{addr}/image"))
        .await
        .unwrap_err();
    assert!(
        err.contains("is image/png") && err.contains("not text"),
        "{err}"
    );
    let err = fetch(&tool, &format!("http://{addr}/unlabelled"))
        .await
        .unwrap_err();
    assert!(err.contains("no content type and is not text"), "{err}");
}

#[tokio::test]
async fn downloads_and_output_are_capped() {
    let addr = serve().await;
    let small = WebFetchConfig {
        max_bytes: 1000,
        ..open()
    }
    .build()
    .unwrap();
    let out = fetch(&small, &format!("http://{addr}/big")).await.unwrap();
    assert!(
        out.contains("only the first 1000 bytes were downloaded"),
        "{out}"
    );
    let (_, body) = out.split_once("\n\n").unwrap();
    assert_eq!(body, "x".repeat(1000));

    let short = WebFetchConfig {
        max_chars: 100,
        ..open()
    }
    .build()
    .unwrap();
    let out = fetch(&short, &format!("http://{addr}/big")).await.unwrap();
    assert!(
        out.ends_with("\n[cut: 100 of 10000 characters shown]"),
        "{out}"
    );
    assert!(!out.contains("downloaded"), "{out}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_server_hits_the_time_limit() {
    let addr = serve().await;
    let tool = open().build().unwrap();
    let start = tokio::time::Instant::now();
    let err = fetch(&tool, &format!("http://{addr}/slow"))
        .await
        .unwrap_err();
    assert!(err.contains("did not answer within 20 s"), "{err}");
    assert_eq!(start.elapsed(), Duration::from_secs(20));
}

#[tokio::test]
async fn a_cancelled_turn_stops_the_fetch() {
    let addr = serve().await;
    let tool = open().build().unwrap();
    let ctx = ctx();
    ctx.cancel.cancel();
    let err = tool
        .call(json!({"url": format!("http://{addr}/slow")}), ctx)
        .await
        .unwrap_err();
    assert!(err.contains("interrupted"), "{err}");
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let addr = serve().await;
    let tool = open().build().unwrap();
    let out = fetch(&tool, &format!("http://{addr}/redirect?to=/text"))
        .await
        .unwrap();
    assert!(
        out.starts_with(&format!("URL: http://{addr}/text\n")),
        "{out}"
    );
    let err = fetch(&tool, &format!("http://{addr}/loop"))
        .await
        .unwrap_err();
    assert!(err.contains("more than 5 redirects"), "{err}");
}

#[tokio::test]
async fn error_statuses_are_errors_with_the_page() {
    let addr = serve().await;
    let tool = open().build().unwrap();
    let err = fetch(&tool, &format!("http://{addr}/missing"))
        .await
        .unwrap_err();
    assert!(
        err.starts_with("the server answered 404 Not Found"),
        "{err}"
    );
    assert!(err.contains("no such page"), "{err}");
}

#[tokio::test]
async fn loopback_and_private_addresses_are_refused_by_default() {
    let addr = serve().await;
    let port = addr.port();
    let tool = WebFetchConfig::default().build().unwrap();
    for (url, kind) in [
        (format!("http://127.0.0.1:{port}/text"), "loopback"),
        (format!("http://localhost:{port}/text"), "loopback"),
        (format!("http://[::1]:{port}/text"), "loopback"),
        (format!("http://[::ffff:127.0.0.1]:{port}/text"), "loopback"),
        (format!("http://2130706433:{port}/text"), "loopback"),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "link-local",
        ),
        ("http://10.0.0.1/".to_owned(), "private"),
        ("http://192.168.1.1/".to_owned(), "private"),
        ("http://100.64.0.1/".to_owned(), "carrier-grade NAT"),
        ("http://[fd00:ec2::254]/".to_owned(), "unique-local"),
        ("http://[fe80::1]/".to_owned(), "link-local"),
        ("http://0.0.0.0/".to_owned(), "unspecified"),
        ("http://224.0.0.1/".to_owned(), "multicast"),
    ] {
        let err = fetch(&tool, &url).await.unwrap_err();
        assert!(err.starts_with("refused to fetch"), "{url}: {err}");
        assert!(err.contains(kind), "{url}: {err}");
        assert!(err.contains("public addresses only"), "{url}: {err}");
    }
    for url in ["file:///etc/passwd", "ftp://example.com/x"] {
        let err = fetch(&tool, url).await.unwrap_err();
        assert!(err.contains("only http and https"), "{url}: {err}");
    }
    let err = fetch(&tool, "not a url").await.unwrap_err();
    assert!(err.contains("not a valid URL"), "{err}");
}

#[tokio::test]
async fn a_redirect_to_a_forbidden_address_is_refused() {
    let addr = serve().await;
    let port = addr.port();
    // Only the first host is allowed.
    let tool = WebFetchConfig {
        allow_hosts: vec!["127.0.0.1".to_owned()],
        ..WebFetchConfig::default()
    }
    .build()
    .unwrap();
    let ok = fetch(&tool, &format!("http://127.0.0.1:{port}/redirect?to=/text")).await;
    assert!(ok.is_ok(), "{ok:?}");
    for target in [
        format!("http://localhost:{port}/text"),
        format!("http://127.0.0.2:{port}/text"),
        format!("http://[::ffff:7f00:1]:{port}/text"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let url = format!("http://127.0.0.1:{port}/redirect?to={target}");
        let err = fetch(&tool, &url).await.unwrap_err();
        assert!(err.starts_with("refused to fetch"), "{target}: {err}");
        assert!(err.contains("public addresses only"), "{target}: {err}");
    }
}

#[tokio::test]
async fn an_allowed_host_name_may_resolve_to_loopback() {
    let addr = serve().await;
    let tool = WebFetchConfig {
        allow_hosts: vec!["localhost".to_owned()],
        ..WebFetchConfig::default()
    }
    .build()
    .unwrap();
    let out = fetch(&tool, &format!("http://localhost:{}/text", addr.port()))
        .await
        .unwrap();
    assert!(out.contains("plain text"), "{out}");
}
