//! The file format end to end: round trips, defaults, every kind of error, JSON/TOML
//! equivalence, the example file and secrets staying secret.

use std::path::PathBuf;
use std::time::Duration;

use heartline_config::{
    fill_query, parse_json, parse_toml, query_secrets, ConfigFile, Defaults, EndpointSpec, Error,
    Resolved, SecretValue,
};
use heartline_core::{
    AppHeartbeat, Endpoint, Header, Protocol, ReplyMatch, SecretVar, Staleness, Step,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// Resolves and fills stored secrets from `store`, as the caller of the crate does.
fn resolve_filled(config: &ConfigFile, store: &[(&str, &str)]) -> Vec<Endpoint> {
    let resolved = config
        .resolve(&no_env)
        .unwrap_or_else(|e| panic!("resolve failed:\n{e}"));
    resolved.into_iter().map(|r| fill(r, store)).collect()
}

/// Fills stored headers by name, stored query parameters by `?name` and stored secret values
/// by `$name` from `store`. A query parameter the store lacks stays empty (as it was when
/// stored empty).
fn fill(r: Resolved, store: &[(&str, &str)]) -> Endpoint {
    let mut e = r.endpoint;
    for name in &r.stored_vars {
        let v = e.secret_vars.iter_mut().find(|v| &v.name == name).unwrap();
        assert_eq!(v.value, "", "stored secret value {name} arrives empty");
        let key = format!("${name}");
        v.value = store
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
            .unwrap_or_else(|| panic!("test store lacks {key}"));
    }
    for name in &r.stored_query {
        assert!(
            query_secrets(&e.url).iter().all(|(n, _)| n != name),
            "stored query parameter {name} arrives empty: {}",
            e.url
        );
        let key = format!("?{name}");
        if let Some((_, value)) = store.iter().find(|(k, _)| *k == key) {
            e.url = fill_query(&e.url, name, value);
        }
    }
    for name in &r.stored_secrets {
        let h = e.headers.iter_mut().find(|h| &h.name == name).unwrap();
        assert_eq!(h.value, "", "stored secret {name} arrives empty");
        h.value = store
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| (*v).to_owned())
            .unwrap_or_else(|| panic!("test store lacks {name}"));
    }
    e
}

fn secret(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
        secret: true,
    }
}

fn plain(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
        secret: false,
    }
}

/// Every field away from its default, a JSON reply rule, reconnect overrides, a secret.
fn full_endpoint() -> Endpoint {
    let mut e = Endpoint::new("ticker", "wss://feed.example.com/ws?room=1");
    e.headers = vec![
        plain("X-Client", "heartline"),
        plain("X-Session-Hint", "not secret after all"),
        secret("Authorization", "Bearer s3cr3t-t0ken"),
    ];
    e.subprotocols = vec!["json".into(), "v2.feed".into()];
    e.tls.insecure = true;
    e.tls.ca_file = Some(PathBuf::from("/etc/ssl/private-ca.pem"));
    e.tags = vec!["prod".into(), "eu".into()];
    e.heartbeat.ping_interval = Duration::from_secs(10);
    e.heartbeat.pong_timeout = ms(2500);
    e.heartbeat.misses_allowed = 3;
    e.app_heartbeat = Some(Box::new(AppHeartbeat {
        payload: r#"{"op":"ping"}"#.into(),
        reply: ReplyMatch::JsonField {
            path: "data.op".into(),
            equals: "pong".into(),
        },
        interval: Duration::from_secs(20),
        timeout: Duration::from_secs(4),
        misses_allowed: 0,
    }));
    e.staleness = Some(Staleness {
        after: Duration::from_secs(90),
        reconnect: false,
    });
    e.on_connect = vec![
        r#"{"op":"subscribe","channel":"ticker"}"#.into(),
        Step::Expect {
            reply: ReplyMatch::JsonField {
                path: "op".into(),
                equals: "subscribed".into(),
            },
            within: Some(Duration::from_secs(3)),
        },
        Step::Expect {
            reply: ReplyMatch::Regex("^ready".into()),
            within: None,
        },
        "hello\nworld".into(),
    ];
    e.handshake_timeout = Duration::from_secs(7);
    e.reconnect.enabled = true;
    e.reconnect.initial = ms(250);
    e.reconnect.multiplier = 1.5;
    e.reconnect.cap = Duration::from_secs(300);
    e.reconnect.jitter = 0.25;
    e.reconnect.reset_after = Duration::from_secs(45);
    e.reconnect.max_attempts = Some(12);
    e.reconnect.try_again_factor = 8.0;
    e.reconnect.stop_on_close_codes = vec![1008, 4001];
    e.reconnect.stop_on_http_status = vec![];
    e.health.degraded_rtt = None;
    e.health.failures_before_down = 4;
    e.health.successes_before_up = 2;
    e.limits.max_message_size = 16 << 20;
    e.limits.max_frame_size = 65_000;
    assert_eq!(e.validate(), Ok(()));
    e
}

// ---- round trips -------------------------------------------------------------------------

/// Endpoint → spec → TOML → parse → resolve (stored secrets filled) gives `e` back, and
/// the same through JSON and through a single store row.
fn check_round_trip(e: Endpoint) {
    let query: Vec<(String, String)> = query_secrets(&e.url)
        .into_iter()
        .map(|(name, value)| (format!("?{name}"), value))
        .collect();
    let vars: Vec<(String, String)> = e
        .secret_vars
        .iter()
        .map(|v| (format!("${}", v.name), v.value.clone()))
        .collect();
    let store: Vec<(&str, &str)> = e
        .headers
        .iter()
        .filter(|h| h.secret)
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .chain(query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .chain(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .collect();
    let config = ConfigFile::from_endpoints(std::slice::from_ref(&e));

    let toml = config.to_toml();
    let parsed = parse_toml(&toml, "export.toml").unwrap_or_else(|err| panic!("{err}\n{toml}"));
    assert_eq!(parsed, config, "TOML:\n{toml}");
    assert_eq!(
        resolve_filled(&parsed, &store),
        std::slice::from_ref(&e),
        "TOML:\n{toml}"
    );

    let json = config.to_json();
    let parsed = parse_json(&json, "export.json").unwrap_or_else(|err| panic!("{err}\n{json}"));
    assert_eq!(parsed, config, "JSON:\n{json}");
    assert_eq!(
        resolve_filled(&parsed, &store),
        std::slice::from_ref(&e),
        "JSON:\n{json}"
    );

    let row = EndpointSpec::from_endpoint(&e).to_json();
    let spec = EndpointSpec::from_json(&row).unwrap_or_else(|err| panic!("{err}\n{row}"));
    let r = spec.resolve(&Defaults::default(), &no_env).unwrap();
    assert_eq!(fill(r, &store), e, "row: {row}");
}

#[test]
fn endpoints_round_trip_exactly() {
    check_round_trip(full_endpoint());
    check_round_trip(Endpoint::new("minimal", "ws://127.0.0.1:9000/echo"));
    check_round_trip({
        let mut e = Endpoint::new("regex", "ws://h/");
        e.app_heartbeat = Some(Box::new(AppHeartbeat {
            payload: "ping".into(),
            reply: ReplyMatch::Regex(r"^pong( \d+)?$".into()),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(5),
            misses_allowed: 1,
        }));
        e.staleness = Some(Staleness {
            after: ms(1500),
            reconnect: true,
        });
        e.reconnect.enabled = false;
        e.limits.max_message_size = 1 << 30;
        e
    });
    check_round_trip({
        let mut e = Endpoint::new("contains", "wss://[::1]:8443/a?b=c");
        e.app_heartbeat = Some(Box::new(AppHeartbeat {
            payload: "{}".into(),
            reply: ReplyMatch::Contains("pong".into()),
            interval: Duration::from_secs(3),
            timeout: Duration::from_secs(1),
            misses_allowed: 5,
        }));
        e.health.degraded_rtt = Some(ms(300));
        e.headers = vec![secret("Cookie", "sid=abc"), secret("X-Api-Key", "k-123")];
        e
    });
    // Credentials in the query: one before a plain parameter, an encoded one, an empty one
    // and one repeated with the same value.
    check_round_trip(Endpoint::new(
        "query",
        "wss://h/ws?token=eyJhbGciOi.J9-_x&room=1&api_key=k%2F1&sig=&api_key=k%2F1",
    ));
    // A protocol preset with binary frames (MQTT) and a byte-matching reply rule.
    check_round_trip({
        let mut e = Endpoint::new("broker", "wss://h/mqtt");
        e.protocol = Protocol::Mqtt;
        e.on_connect = vec!["hex:8205000100017400".into(), "text:hex:not binary".into()];
        e.app_heartbeat = Some(Box::new(AppHeartbeat {
            payload: "base64:wAA=".into(),
            reply: ReplyMatch::Contains("hex:d000".into()),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(5),
            misses_allowed: 1,
        }));
        e
    });
    // MQTT 5: its own name, the same subprotocol as 3.1.1.
    check_round_trip({
        let mut e = Endpoint::new("broker5", "wss://h/mqtt");
        e.protocol = Protocol::Mqtt5;
        e
    });
    // Secret values used in payloads: on_connect and the application heartbeat.
    check_round_trip({
        let mut e = Endpoint::new("graphql", "wss://h/graphql");
        e.protocol = Protocol::GraphqlTransportWs;
        e.secret_vars = vec![
            SecretVar::new("token", "gql-t0ken.99"),
            SecretVar::new("user-id", "u-4242"),
        ];
        e.on_connect = vec![
            r#"{"type":"connection_init","payload":{"authToken":"{{secret:token}}"}}"#.into(),
            r#"{"id":"1","type":"subscribe","payload":{"user":"{{secret:user-id}}"}}"#.into(),
        ];
        e.app_heartbeat = Some(Box::new(AppHeartbeat {
            payload: r#"{"beat":"{{secret:token}}"}"#.into(),
            reply: ReplyMatch::Contains("beat".into()),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(5),
            misses_allowed: 1,
        }));
        e
    });
    check_round_trip({
        let mut e = Endpoint::new("both", "wss://h/ws?access_token=q-s3cret");
        e.headers = vec![secret("Authorization", "Bearer h-s3cret")];
        e
    });
}

#[test]
fn from_endpoints_writes_only_what_differs() {
    let toml = ConfigFile::from_endpoints(&[Endpoint::new("a", "ws://h/")]).to_toml();
    assert_eq!(toml.trim(), "[[endpoint]]\nname = \"a\"\nurl = \"ws://h/\"");
}

// ---- defaults ----------------------------------------------------------------------------

/// The first endpoint of `toml` resolves to `Endpoint::new(name, url)` changed by `expect`.
fn check_defaults(toml: &str, expect: impl FnOnce(&mut Endpoint)) {
    let config = parse_toml(toml, "t.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let got = config
        .resolve(&no_env)
        .unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let spec = &config.endpoints[0];
    let mut want = Endpoint::new(spec.name.clone(), spec.url.clone());
    expect(&mut want);
    assert_eq!(got[0].endpoint, want, "{toml}");
}

const ENDPOINT: &str = "[[endpoint]]\nname = \"e\"\nurl = \"ws://h/\"\n";

/// A timeout set nowhere follows the interval that was set (half of it when the built-in
/// timeout is not shorter); one set in the file, here or in `[defaults]`, is kept and checked.
#[test]
fn unset_timeouts_follow_the_intervals_set() {
    check_defaults(&format!("{ENDPOINT}ping_interval = \"3s\"\n"), |e| {
        e.heartbeat.ping_interval = Duration::from_secs(3);
        e.heartbeat.pong_timeout = ms(1500);
    });
    // Equal to the built-in 5 s pong timeout (which once refused it): half of it.
    check_defaults(&format!("{ENDPOINT}ping_interval = \"5s\"\n"), |e| {
        e.heartbeat.ping_interval = Duration::from_secs(5);
        e.heartbeat.pong_timeout = ms(2500);
    });
    // Still shorter than the interval: the built-in 5 s stays.
    check_defaults(&format!("{ENDPOINT}ping_interval = \"8s\"\n"), |e| {
        e.heartbeat.ping_interval = Duration::from_secs(8);
    });
    check_defaults(
        &format!(
            "{ENDPOINT}ping_interval = \"12s\"\n[endpoint.app_heartbeat]\npayload = \"p\"\n\
             match = \"q\"\ninterval = \"2s\"\n"
        ),
        |e| {
            e.heartbeat.ping_interval = Duration::from_secs(12);
            e.app_heartbeat = Some(Box::new(AppHeartbeat {
                payload: "p".into(),
                reply: ReplyMatch::Contains("q".into()),
                interval: Duration::from_secs(2),
                timeout: Duration::from_secs(1),
                misses_allowed: 1,
            }));
        },
    );
    // A pong timeout in [defaults] was set by someone: an interval below it is refused.
    let err = parse_toml(
        &format!("[defaults]\npong_timeout = \"4s\"\n{ENDPOINT}ping_interval = \"3s\"\n"),
        "heartline.toml",
    )
    .unwrap()
    .resolve(&no_env)
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("must be shorter than the ping interval"),
        "{err}"
    );
}

#[test]
fn defaults_apply_unless_overridden() {
    check_defaults(ENDPOINT, |_| {});
    check_defaults(
        &format!("[defaults]\nping_interval = \"20s\"\nmisses_allowed = 4\n{ENDPOINT}"),
        |e| {
            e.heartbeat.ping_interval = Duration::from_secs(20);
            e.heartbeat.misses_allowed = 4;
        },
    );
    check_defaults(
        &format!("[defaults]\nping_interval = \"20s\"\n{ENDPOINT}ping_interval = \"30s\"\n"),
        |e| e.heartbeat.ping_interval = Duration::from_secs(30),
    );
    // Reconnect merges key by key: the endpoint's cap, the defaults' initial.
    check_defaults(
        &format!(
            "[defaults.reconnect]\ninitial = \"1s\"\ncap = \"2m\"\nmax_attempts = 3\n\
             {ENDPOINT}[endpoint.reconnect]\ncap = \"5m\"\nmax_attempts = \"never\"\n"
        ),
        |e| {
            e.reconnect.initial = Duration::from_secs(1);
            e.reconnect.cap = Duration::from_secs(300);
            e.reconnect.max_attempts = None;
        },
    );
    // The app heartbeat falls back to the endpoint's effective protocol heartbeat.
    check_defaults(
        &format!(
            "[defaults]\npong_timeout = \"3s\"\nmisses_allowed = 2\n{ENDPOINT}\
             ping_interval = \"12s\"\n[endpoint.app_heartbeat]\npayload = \"p\"\nmatch = \"q\"\n"
        ),
        |e| {
            e.heartbeat.ping_interval = Duration::from_secs(12);
            e.heartbeat.pong_timeout = Duration::from_secs(3);
            e.heartbeat.misses_allowed = 2;
            e.app_heartbeat = Some(Box::new(AppHeartbeat {
                payload: "p".into(),
                reply: ReplyMatch::Contains("q".into()),
                interval: Duration::from_secs(12),
                timeout: Duration::from_secs(3),
                misses_allowed: 2,
            }));
        },
    );
    check_defaults(
        &format!(
            "[defaults]\ndegraded_rtt = \"off\"\nmax_frame_size = 2048\n\
             max_message_size = \"64 KiB\"\n{ENDPOINT}stale_after = \"1m\"\n"
        ),
        |e| {
            e.health.degraded_rtt = None;
            e.limits.max_frame_size = 2048;
            e.limits.max_message_size = 64 << 10;
            e.staleness = Some(Staleness {
                after: Duration::from_secs(60),
                reconnect: true,
            });
        },
    );
    // The instability thresholds: from [defaults], an endpoint's own value winning.
    check_defaults(
        &format!(
            "[defaults]\nunstable_after = 5\nunstable_window = \"30m\"\n{ENDPOINT}\
             stable_after = \"90s\"\n"
        ),
        |e| {
            e.health.unstable_after = 5;
            e.health.unstable_window = Duration::from_secs(1800);
            e.health.stable_after = Duration::from_secs(90);
        },
    );
    // Writing out every built-in value changes nothing.
    let builtin = ConfigFile::new(Defaults::builtin(), vec![EndpointSpec::new("e", "ws://h/")]);
    check_defaults(&builtin.to_toml(), |_| {});
}

// ---- errors ------------------------------------------------------------------------------

enum Format {
    Toml,
    Json,
}

/// Parsing then resolving `text` fails with exactly the `expected` lines.
fn check_error(format: Format, text: &str, env: &[(&str, &str)], expected: &[&str]) {
    let result = match format {
        Format::Toml => parse_toml(text, "heartline.toml"),
        Format::Json => parse_json(text, "heartline.json"),
    }
    .and_then(|c| c.resolve(&env_of(env)));
    let err = match result {
        Ok(_) => panic!("no error for:\n{text}"),
        Err(e) => e,
    };
    let shown = err.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines, expected, "for:\n{text}");
    for (_, value) in env {
        assert!(!shown.contains(value), "secret {value:?} in {shown}");
        assert!(
            !format!("{err:?}").contains(value),
            "secret {value:?} in Debug"
        );
    }
}

#[test]
fn syntax_errors_name_line_and_column() {
    check_error(
        Format::Toml,
        "[[endpoint]]\nname = \"a\"\nurl = \"ws://h/\nping_interval = \"1s\"\n",
        &[],
        &["heartline.toml:3:15: invalid basic string, expected `\"`"],
    );
    check_error(
        Format::Json,
        "{\n  \"endpoint\": [\n    { \"name\": \"a\", }\n  ]\n}",
        &[],
        &["heartline.json:3:20: key must be a string"],
    );
    let err = parse_toml("a = [1,\n", "x.toml").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Syntax {
                line: 1,
                column: 8,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn unknown_and_missing_keys_are_named() {
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}pign_interval = \"1s\"\n"),
        &[],
        &["heartline.toml:4: endpoint 1 (e): pign_interval: unknown key; did you mean `ping_interval`?"],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}[endpoint.reconnect]\ncap = \"1m\"\nbogus = 1\n"),
        &[],
        &["heartline.toml:6: endpoint 1 (e): reconnect.bogus: unknown key (heartline.example.toml lists every key)"],
    );
    check_error(
        Format::Toml,
        "[[endpoints]]\nname = \"a\"\n",
        &[],
        &["heartline.toml:1: endpoints: unknown key; did you mean `endpoint`?"],
    );
    check_error(
        Format::Toml,
        "[endpoint]\nname = \"a\"\nurl = \"ws://h/\"\n",
        &[],
        &["heartline.toml:1: endpoint: write each endpoint as an [[endpoint]] table (double brackets)"],
    );
    // One broken endpoint does not hide another.
    check_error(
        Format::Toml,
        "[defaults]\nping = \"1s\"\n[[endpoint]]\nname = \"a\"\n\n[[endpoint]]\nname = \"b\"\nurl = \"ws://h/\"\nmisses_allowed = \"two\"\n",
        &[],
        &[
            "heartline.toml:2: defaults.ping: unknown key (heartline.example.toml lists every key)",
            "heartline.toml:3: endpoint 1 (a): url: is required",
            "heartline.toml:9: endpoint 2 (b): misses_allowed: must be a whole number (found a string)",
        ],
    );
    check_error(
        Format::Json,
        "{\"endpoint\": [\n {\"name\": \"a\", \"url\": \"ws://h/\",\n  \"app_heartbeat\": {\"payload\": \"p\", \"matches\": \"x\"}}\n]}",
        &[],
        &["heartline.json:3: endpoint 1 (a): app_heartbeat.matches: unknown key; did you mean `match`?"],
    );
    check_error(
        Format::Json,
        "{\"endpoint\": [],\n \"endpoint\": []}",
        &[],
        &["heartline.json:2: endpoint: appears twice; give each key once"],
    );
    check_error(
        Format::Json,
        "{\"endpoint\": [{\"name\": \"a\", \"url\": \"ws://h/\",\n \"name\": \"b\"}]}",
        &[],
        &["heartline.json:2: endpoint 1 (b): name: duplicate field `name`"],
    );
    check_error(
        Format::Toml,
        "endpoint = [1]",
        &[],
        &["heartline.toml:1: endpoint 1: must be a table (found an integer)"],
    );
    check_error(
        Format::Json,
        "[1, 2]",
        &[],
        &["heartline.json:1: the top level must be an object with the keys `defaults` and `endpoint`"],
    );
}

#[test]
fn bad_values_name_line_field_and_fix() {
    check_error(
        Format::Toml,
        "[[endpoint]]\nname = \"a\"\nurl = \"ws://h/\"\n\n[[endpoint]]\nname = \"ticker\"\nurl = \"ws://h/t\"\nping_interval = 15\nmax_frame_size = \"1MB\"\n[endpoint.reconnect]\ncap = \"soon\"\n",
        &[],
        &[
            "heartline.toml:8: endpoint 2 (ticker): ping_interval: `15` needs a unit (ms, s, m, h or d), e.g. 15s",
            "heartline.toml:9: endpoint 2 (ticker): max_frame_size: `MB` in `1MB` is not a unit; use B, KiB, MiB or GiB (powers of 1024)",
            "heartline.toml:11: endpoint 2 (ticker): reconnect.cap: `soon` is not a duration; write e.g. 250ms, 15s, 2m",
        ],
    );
    check_error(
        Format::Json,
        "{\n \"endpoint\": [{\n  \"name\": \"j\",\n  \"url\": \"ws://h/\",\n  \"pong_timeout\": \"5 parsecs\"\n }]\n}",
        &[],
        &["heartline.json:5: endpoint 1 (j): pong_timeout: `parsecs` in `5 parsecs` is not a unit; use ms, s, m, h or d"],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}protocol = \"soap\"\n"),
        &[],
        &["heartline.toml:4: endpoint 1 (e): protocol: unknown protocol `soap`; expected one of websocket, socketio, socketio3, graphql-transport-ws, subscriptions-transport-ws, mqtt, mqtt5, actioncable, pusher, phoenix, signalr, stomp"],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}on_connect = [\"init\", {{ match = \"ack\", regex = \"a\" }}, {{ within = \"2s\" }}, {{ json = \"ack\" }}, {{ match = \"x\", within = \"soon\" }}]\n"),
        &[],
        &[
            "heartline.toml:4: endpoint 1 (e): on_connect[1].regex: give only one of `match`, `regex` or `json` (`match` is already set)",
            "heartline.toml:4: endpoint 1 (e): on_connect[2]: needs a reply rule: one of `match`, `regex` or `json`",
            "heartline.toml:4: endpoint 1 (e): on_connect[3].json: `ack` is not PATH=VALUE, e.g. `op=pong` or `data.type=heartbeat`",
            "heartline.toml:4: endpoint 1 (e): on_connect[4].within: `soon` is not a duration; write e.g. 250ms, 15s, 2m",
        ],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}on_connect = [{{ matc = \"ack\" }}]\n"),
        &[],
        &["heartline.toml:4: endpoint 1 (e): on_connect[0].matc: unknown key; did you mean `match`?"],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}on_connect = [\"hex:c0 0\"]\n"),
        &[],
        &["heartline.toml:4: endpoint 1 (e): on_connect[0]: hex payload has an odd number of digits (3)"],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}degraded_rtt = \"never\"\n"),
        &[],
        &["heartline.toml:4: endpoint 1 (e): degraded_rtt: `never` is not a duration; write e.g. 250ms, 15s, 2m; or \"off\""],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}[endpoint.reconnect]\nmax_attempts = \"forever\"\n"),
        &[],
        &["heartline.toml:5: endpoint 1 (e): reconnect.max_attempts: must be a number of attempts or \"never\""],
    );
}

#[test]
fn core_validation_is_mapped_to_file_keys_and_lines() {
    check_error(
        Format::Toml,
        "[[endpoint]]\nname = \"ticker\"\nurl = \"http://feed.example.com/\"\nping_interval = \"4s\"\n\
         pong_timeout = \"5s\"\nmax_frame_size = 512\ntags = [\"a,b\"]\nheaders = { Host = \"x\" }\n\
         [endpoint.app_heartbeat]\npayload = \"p\"\nregex = \"(\"\n[endpoint.reconnect]\nmultiplier = 0.5\n",
        &[],
        &[
            "heartline.toml:3: endpoint 1 (ticker): url: scheme `http` is HTTP; WebSocket URLs start with ws:// or wss://",
            "heartline.toml:8: endpoint 1 (ticker): headers.Host: `Host` is set by Heartline itself",
            "heartline.toml:7: endpoint 1 (ticker): tags[0]: must be non-empty without commas or control characters",
            "heartline.toml:5: endpoint 1 (ticker): pong_timeout: must be shorter than the ping interval (5s >= 4s)",
            "heartline.toml:11: endpoint 1 (ticker): app_heartbeat.regex: invalid regex: regex parse error: ( ^ error: unclosed group",
            "heartline.toml:13: endpoint 1 (ticker): reconnect.multiplier: must be at least 1 and at most 10",
            "heartline.toml:6: endpoint 1 (ticker): max_frame_size: must be at least 1 KiB",
        ],
    );
    // An inherited value that only fails together with the endpoint's own value points at
    // the endpoint and says where the value came from.
    check_error(
        Format::Toml,
        &format!("[defaults]\npong_timeout = \"3s\"\n{ENDPOINT}ping_interval = \"2s\"\n"),
        &[],
        &["heartline.toml:3: endpoint 1 (e): pong_timeout: must be shorter than the ping interval (3s >= 2s) (value from [defaults])"],
    );
    // A built-in default no longer refuses an interval the file set: see
    // `unset_timeouts_follow_the_intervals_set`.
    // A bad default is reported once, at [defaults], however many endpoints inherit it.
    check_error(
        Format::Toml,
        &format!(
            "[defaults]\nhandshake_timeout = \"1h\"\nfailures_before_down = 0\n{ENDPOINT}{}",
            ENDPOINT.replace("\"e\"", "\"f\"")
        ),
        &[],
        &[
            "heartline.toml:2: defaults.handshake_timeout: must be at most 5m",
            "heartline.toml:3: defaults.failures_before_down: must be at least 1",
        ],
    );
}

#[test]
fn instability_thresholds_are_checked() {
    check_error(
        Format::Toml,
        &format!(
            "[defaults]\nunstable_after = 1\n{ENDPOINT}unstable_window = \"0s\"\n\
             stable_after = \"2d\"\n"
        ),
        &[],
        &[
            "heartline.toml:2: defaults.unstable_after: must be between 2 and 100",
            "heartline.toml:6: endpoint 1 (e): unstable_window: must be positive",
            "heartline.toml:7: endpoint 1 (e): stable_after: must be at most 1d",
        ],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}unstable_window = \"soon\"\n"),
        &[],
        &["heartline.toml:4: endpoint 1 (e): unstable_window: `soon` is not a duration; write e.g. 250ms, 15s, 2m"],
    );
}

#[test]
fn file_level_rules() {
    check_error(
        Format::Toml,
        "[[endpoint]]\nname = \"feed\"\nurl = \"ws://a/\"\n[[endpoint]]\nname = \"other\"\nurl = \"ws://b/\"\n[[endpoint]]\nname = \"feed\"\nurl = \"ws://c/\"\n",
        &[],
        &["heartline.toml:8: endpoint 3 (feed): name: `feed` is already the name of endpoint 1; names must be unique"],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}headers = {{ \"X-Token\" = \"public\" }}\nsecret_headers = {{ \"x-token\" = {{ stored = true }} }}\n"),
        &[],
        &["heartline.toml:5: endpoint 1 (e): secret_headers.x-token: collides with `headers.X-Token` (header names are case-insensitive)"],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}[endpoint.app_heartbeat]\npayload = \"p\"\nmatch = \"a\"\njson = \"op\"\n"),
        &[],
        &["heartline.toml:7: endpoint 1 (e): app_heartbeat.json: give only one of `match`, `regex` or `json` (`match` is already set)"],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}[endpoint.app_heartbeat]\npayload = \"p\"\njson = \"op\"\n"),
        &[],
        &["heartline.toml:6: endpoint 1 (e): app_heartbeat.json: `op` is not PATH=VALUE, e.g. `op=pong` or `data.type=heartbeat`"],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}[endpoint.app_heartbeat]\npayload = \"p\"\n"),
        &[],
        &["heartline.toml:4: endpoint 1 (e): app_heartbeat: needs a reply rule: one of `match`, `regex` or `json`"],
    );
}

#[test]
fn secrets_never_reach_messages() {
    // A missing variable is named; nothing of any value is shown.
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}secret_headers = {{ Authorization = {{ env = \"TICKER_TOKEN\" }}, \"X-Key\" = {{ env = \"OTHER\" }} }}\n"),
        &[("OTHER", "other-secret-value")],
        &["heartline.toml:4: endpoint 1 (e): secret_headers.Authorization: environment variable `TICKER_TOKEN` is not set"],
    );
    // An env secret with a control character fails core validation without its value.
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}secret_headers = {{ Authorization = {{ env = \"T\" }} }}\n"),
        &[("T", "Bearer abc\r\ndef")],
        &["heartline.toml:4: endpoint 1 (e): secret_headers.Authorization: value of `Authorization` contains the control character U+000D"],
    );
    // Even a message that would quote the secret's text gets it masked.
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}subprotocols = [\"hunter2 x\"]\nsecret_headers = {{ Authorization = {{ env = \"T\" }} }}\n"),
        &[("T", "hunter2 x")],
        &["heartline.toml:4: endpoint 1 (e): subprotocols[0]: `••••••` is not a valid subprotocol token (letters, digits and !#$%&'*+-.^_`|~)"],
    );
    // A secret written where it does not belong is not echoed by type errors either.
    for text in [
        format!("{ENDPOINT}secret_headers = {{ Authorization = [\"Bearer hunter2\"] }}\n"),
        format!("{ENDPOINT}misses_allowed = \"Bearer hunter2\"\n"),
        format!(
            "{ENDPOINT}secret_headers = {{ Authorization = {{ value = \"Bearer hunter2\" }} }}\n"
        ),
    ] {
        let err = parse_toml(&text, "s.toml").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }
    // Literal secrets are masked in Debug of the parsed file.
    let config = parse_toml(
        &format!("{ENDPOINT}secret_headers = {{ Authorization = \"Bearer hunter2\" }}\n"),
        "s.toml",
    )
    .unwrap();
    assert!(!format!("{config:?}").contains("hunter2"));
    let resolved = config.resolve(&no_env).unwrap();
    assert!(!format!("{resolved:?}").contains("hunter2"));
    assert_eq!(resolved[0].endpoint.headers[0].value, "Bearer hunter2");
}

#[test]
fn exports_never_contain_secret_values() {
    let mut other = Endpoint::new("other", "ws://h/");
    other.headers = vec![
        secret("Cookie", "sid=0123456789"),
        secret("X-Api-Key", "k-abcdef"),
    ];
    let query = Endpoint::new("query", "wss://h/ws?room=1&token=eyJ.q-t0ken&api_key=q-k3y");
    let endpoints = [full_endpoint(), other, query];
    let config = ConfigFile::from_endpoints(&endpoints);
    for out in [config.to_toml(), config.to_json(), format!("{config:?}")] {
        for value in [
            "s3cr3t-t0ken",
            "sid=0123456789",
            "k-abcdef",
            "eyJ.q-t0ken",
            "q-k3y",
        ] {
            assert!(!out.contains(value), "{value} in\n{out}");
        }
        assert!(out.to_lowercase().contains("stored"), "{out}");
    }
    for e in &endpoints {
        let row = EndpointSpec::from_endpoint(e).to_json();
        assert!(!row.contains("s3cr3t") && !row.contains("sid=") && !row.contains("k-abc"));
        assert!(!row.contains("q-t0ken") && !row.contains("q-k3y"), "{row}");
    }
    let resolved = config.resolve(&no_env).unwrap();
    assert_eq!(resolved[0].stored_secrets, ["Authorization"]);
    assert_eq!(resolved[1].stored_secrets, ["Cookie", "X-Api-Key"]);
    assert_eq!(resolved[2].stored_query, ["token", "api_key"]);
    assert_eq!(
        resolved[2].endpoint.url,
        "wss://h/ws?room=1&token=&api_key="
    );
    assert!(resolved.iter().all(|r| r.warnings.is_empty()));
}

// ---- JSON and TOML are one tree ----------------------------------------------------------

/// `toml` and `json` parse to the same configuration and resolve alike.
fn check_same(toml: &str, json: &str) {
    let a = parse_toml(toml, "a.toml").unwrap_or_else(|e| panic!("{e}"));
    let b = parse_json(json, "b.json").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
    let env = env_of(&[("TICKER_TOKEN", "tok")]);
    assert_eq!(a.resolve(&env).unwrap(), b.resolve(&env).unwrap());
    assert_eq!(parse_json(&a.to_json(), "c.json").unwrap(), a);
    assert_eq!(parse_toml(&b.to_toml(), "d.toml").unwrap(), b);
}

#[test]
fn json_is_the_same_tree() {
    check_same(
        "[defaults]\nping_interval = \"20s\"\nmax_message_size = 8388608\n[defaults.reconnect]\nmax_attempts = 5\n\
         [[endpoint]]\nname = \"a\"\nurl = \"ws://h/\"\nheaders = { B = \"2\", A = \"1\" }\n\
         secret_headers = { Authorization = { env = \"TICKER_TOKEN\" }, Cookie = { stored = true }, X-K = \"lit\" }\n\
         [endpoint.app_heartbeat]\npayload = \"p\"\njson = \"data.op=pong\"\n",
        r#"{
          "defaults": {"ping_interval": "20s", "max_message_size": 8388608, "reconnect": {"max_attempts": 5}},
          "endpoint": [{
            "name": "a", "url": "ws://h/",
            "headers": {"B": "2", "A": "1"},
            "secret_headers": {"Authorization": {"env": "TICKER_TOKEN"}, "Cookie": {"stored": true}, "X-K": "lit"},
            "app_heartbeat": {"payload": "p", "json": "data.op=pong"}
          }]
        }"#,
    );
    let example = include_str!("../../../heartline.example.toml");
    let config = parse_toml(example, "heartline.example.toml").unwrap();
    check_same(example, &config.to_json());
}

#[test]
fn header_order_is_kept() {
    let config = parse_toml(
        &format!("{ENDPOINT}headers = {{ Zeta = \"1\", Alpha = \"2\", Mid = \"3\" }}\n"),
        "o.toml",
    )
    .unwrap();
    let names: Vec<String> = resolve_filled(&config, &[])[0]
        .headers
        .iter()
        .map(|h| h.name.clone())
        .collect();
    assert_eq!(names, ["Zeta", "Alpha", "Mid"]);
}

// ---- the example file and store rows -----------------------------------------------------

#[test]
fn example_file_parses_and_resolves() {
    let text = include_str!("../../../heartline.example.toml");
    let config = parse_toml(text, "heartline.example.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.defaults,
        Defaults::builtin(),
        "the example shows the built-ins"
    );
    let env = env_of(&[("TICKER_TOKEN", "Bearer example")]);
    let resolved = config.resolve(&env).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = resolved.iter().map(|r| r.endpoint.name.as_str()).collect();
    assert_eq!(names, ["ticker", "orders", "staging"]);

    let ticker = &resolved[0].endpoint;
    assert_eq!(ticker.headers[1], secret("Authorization", "Bearer example"));
    assert_eq!(ticker.heartbeat.ping_interval, Duration::from_secs(10));
    assert_eq!(ticker.reconnect.cap, Duration::from_secs(300));
    assert_eq!(ticker.reconnect.initial, ms(500));
    assert_eq!(
        ticker.app_heartbeat.as_ref().map(|a| &a.reply),
        Some(&ReplyMatch::Contains("pong".into()))
    );
    assert_eq!(resolved[1].stored_secrets, ["X-Api-Key"]);
    assert_eq!(resolved[1].stored_vars, ["session"]);
    assert_eq!(
        resolved[1].endpoint.secret_vars,
        [SecretVar::new("session", "")]
    );
    assert_eq!(resolved[1].endpoint.health.degraded_rtt, None);
    assert_eq!(resolved[1].endpoint.reconnect.max_attempts, Some(10));
    assert!(resolved[2].endpoint.tls.insecure);

    // Without the variable, the example says exactly what is missing.
    // The error names the line of the file that asks for the variable, wherever comments
    // above it move it.
    let line = 1 + text
        .lines()
        .position(|l| l.contains("env = \"TICKER_TOKEN\""))
        .expect("the example reads TICKER_TOKEN");
    let err = config.resolve(&no_env).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("heartline.example.toml:{line}: endpoint 1 (ticker): secret_headers.Authorization: environment variable `TICKER_TOKEN` is not set")
    );
    assert_eq!(parse_toml(&config.to_toml(), "again.toml").unwrap(), config);
}

#[test]
fn store_rows_are_single_endpoint_json() {
    let spec = EndpointSpec::from_endpoint(&full_endpoint());
    let row = spec.to_json();
    assert!(!row.contains('\n'), "one line per row: {row}");
    assert_eq!(EndpointSpec::from_json(&row).unwrap(), spec);
    let err = EndpointSpec::from_json("{\"name\": \"a\", \"url\": \"ws://h/\", \"tagz\": 1}")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1: tagz: unknown key; did you mean `tags`?"
    );
    let err = EndpointSpec::from_json("{\"name\": \"a\",").unwrap_err();
    assert!(matches!(err, Error::Syntax { line: 1, .. }), "{err:?}");
    let err = EndpointSpec::new("a", "ws://h/")
        .resolve(
            &Defaults {
                pong_timeout: Some("20s".into()),
                ..Defaults::default()
            },
            &no_env,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pong_timeout: must be shorter than the ping interval (20s >= 15s) (value from [defaults])"
    );
}

#[test]
fn files_load_by_extension() {
    let dir = std::env::temp_dir().join(format!("heartline-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = ConfigFile::from_endpoints(&[full_endpoint()]);
    let (toml_path, json_path) = (dir.join("h.toml"), dir.join("h.json"));
    std::fs::write(&toml_path, config.to_toml()).unwrap();
    std::fs::write(&json_path, config.to_json()).unwrap();
    assert_eq!(heartline_config::load(&toml_path).unwrap(), config);
    let loaded = heartline_config::load(&json_path).unwrap();
    assert_eq!(loaded, config);
    assert_eq!(loaded.origin(), json_path.display().to_string());
    let missing = dir.join("missing.toml");
    let err = heartline_config::load(&missing).unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&missing.display().to_string()),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- credentials in the query ------------------------------------------------------------

#[test]
fn query_secrets_are_exported_as_stored() {
    let config =
        ConfigFile::from_endpoints(&[Endpoint::new("feed", "wss://h/ws?token=abc123&room=1")]);
    assert_eq!(
        config.to_toml().trim(),
        "[[endpoint]]\nname = \"feed\"\nurl = \"wss://h/ws?token=&room=1\"\n\
         secret_query = { token = { stored = true } }"
    );
    assert_eq!(
        config.endpoints[0].secret_query,
        [("token".to_owned(), SecretValue::Stored)]
    );
    let json = config.to_json();
    assert!(
        json.contains(r#""secret_query": {"#) && !json.contains("abc123"),
        "{json}"
    );
    // A parameter that does not look like a credential stays in the URL as written.
    let plain = ConfigFile::from_endpoints(&[Endpoint::new("p", "wss://h/ws?room=1&page=2")]);
    assert_eq!(
        plain.to_toml().trim(),
        "[[endpoint]]\nname = \"p\"\nurl = \"wss://h/ws?room=1&page=2\""
    );
}

#[test]
fn query_secrets_come_from_env_literal_or_store() {
    let config = parse_toml(
        "[[endpoint]]\nname = \"env\"\nurl = \"wss://h/ws?room=1&token=\"\n\
         secret_query = { token = { env = \"FEED_TOKEN\" } }\n\n\
         [[endpoint]]\nname = \"appended\"\nurl = \"wss://h/ws\"\n\
         secret_query = { api_key = { env = \"FEED_TOKEN\" } }\n\n\
         [[endpoint]]\nname = \"stored\"\nurl = \"wss://h/ws?token=&room=1\"\n\
         secret_query = { token = { stored = true } }\n",
        "q.toml",
    )
    .unwrap();
    let resolved = config
        .resolve(&env_of(&[("FEED_TOKEN", "tok-123.abc")]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        resolved[0].endpoint.url,
        "wss://h/ws?room=1&token=tok-123.abc"
    );
    assert_eq!(resolved[1].endpoint.url, "wss://h/ws?api_key=tok-123.abc");
    assert_eq!(resolved[2].endpoint.url, "wss://h/ws?token=&room=1");
    assert_eq!(resolved[2].stored_query, ["token"]);
    assert!(resolved[0].stored_query.is_empty() && resolved[1].stored_query.is_empty());
    assert!(resolved.iter().all(|r| r.warnings.is_empty()));
    assert!(!format!("{resolved:?}").contains("FEED_TOKEN\", \"tok"));
    // The same tree in JSON.
    check_same(
        "[[endpoint]]\nname = \"a\"\nurl = \"ws://h/?token=\"\n\
         secret_query = { token = { env = \"TICKER_TOKEN\" }, sig = { stored = true } }\n",
        r#"{"endpoint": [{"name": "a", "url": "ws://h/?token=",
            "secret_query": {"token": {"env": "TICKER_TOKEN"}, "sig": {"stored": true}}}]}"#,
    );
}

#[test]
fn a_credential_written_in_the_file_works_with_a_warning() {
    let config = parse_toml(
        "[[endpoint]]\nname = \"inline\"\nurl = \"wss://h/ws?token=abc123secret&room=1\"\n\n\
         [[endpoint]]\nname = \"literal\"\nurl = \"wss://h/ws?room=1\"\n\
         secret_query = { access_token = \"lit-s3cret\" }\n",
        "w.toml",
    )
    .unwrap();
    let resolved = config.resolve(&no_env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        resolved[0].endpoint.url,
        "wss://h/ws?token=abc123secret&room=1"
    );
    assert_eq!(
        resolved[1].endpoint.url,
        "wss://h/ws?room=1&access_token=lit-s3cret"
    );
    let shown: Vec<Vec<String>> = resolved
        .iter()
        .map(|r| r.warnings.iter().map(ToString::to_string).collect())
        .collect();
    assert_eq!(
        shown,
        [
            vec!["w.toml:3: endpoint 1 (inline): url: query parameter `token` has its value written in the URL, so this file holds a credential; leave it empty (`token=`) and give the value in `secret_query`, e.g. `secret_query = { token = { env = \"VAR\" } }`".to_owned()],
            vec!["w.toml:8: endpoint 2 (literal): secret_query.access_token: the value is written in this file; keep it out with `{ env = \"VAR\" }` or `{ stored = true }`".to_owned()],
        ]
    );
    for r in &resolved {
        let w = format!("{:?}", r.warnings);
        assert!(
            !w.contains("abc123secret") && !w.contains("lit-s3cret"),
            "{w}"
        );
    }

    // A single spec (a store row, a form) warns too, naming the key.
    let r = EndpointSpec::new("one", "ws://h/?sig=abcd1234")
        .resolve(&Defaults::default(), &no_env)
        .unwrap();
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.warnings[0].field, "url");
    assert!(r.warnings[0].message.contains("`sig`"), "{}", r.warnings[0]);
    assert!(!r.warnings[0].to_string().contains("abcd1234"));
}

#[test]
fn query_secret_mistakes_are_refused_without_the_value() {
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}secret_query = {{ token = {{ env = \"FEED_TOKEN\" }} }}\n"),
        &[],
        &["heartline.toml:4: endpoint 1 (e): secret_query.token: environment variable `FEED_TOKEN` is not set"],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}secret_query = {{ room = {{ stored = true }} }}\n"),
        &[],
        &["heartline.toml:4: endpoint 1 (e): secret_query.room: `room` does not look like a credential, so the URL would still show and export its value; write it in `url` instead (secret parameter names contain token, key, secret, password, auth, session or sig)"],
    );
    check_error(
        Format::Toml,
        "[[endpoint]]\nname = \"e\"\nurl = \"ws://h/?token=inline-s3cret\"\n\
         secret_query = { token = { env = \"FEED_TOKEN\" } }\n",
        &[("FEED_TOKEN", "env-s3cret")],
        &["heartline.toml:4: endpoint 1 (e): secret_query.token: the URL gives `token` a value too; leave it empty there (`token=`)"],
    );
    check_error(
        Format::Toml,
        &format!("{ENDPOINT}secret_query = {{ token = {{ env = \"FEED_TOKEN\" }} }}\n"),
        &[("FEED_TOKEN", "abc&room=2")],
        &["heartline.toml:4: endpoint 1 (e): secret_query.token: the value contains `&`, which would end the parameter (write it as %26)"],
    );
    check_error(
        Format::Json,
        "{\"endpoint\": [{\"name\": \"e\", \"url\": \"ws://h/\",\n \"secret_query\": {\"token\": {\"stored\": true}, \"token\": \"x\"}}]}",
        &[],
        &["heartline.json:2: endpoint 1 (e): secret_query.token: is given twice"],
    );
    // A value written in the URL never reaches an error message either.
    let err = parse_toml(
        "[[endpoint]]\nname = \"e\"\nurl = \"ws://h:99999/?token=inline-s3cret\"\n",
        "u.toml",
    )
    .unwrap()
    .resolve(&no_env)
    .unwrap_err();
    assert!(!err.to_string().contains("inline-s3cret"), "{err}");
}

// ---- secret values in payloads -----------------------------------------------------------

#[test]
fn secret_vars_come_from_env_literal_or_store() {
    let config = parse_toml(
        "[[endpoint]]\nname = \"gql\"\nurl = \"wss://h/graphql\"\nprotocol = \"graphql-transport-ws\"\n\
         on_connect = ['{\"type\":\"connection_init\",\"payload\":{\"authToken\":\"{{secret:token}}\"}}']\n\
         secret_vars = { token = { env = \"GQL_TOKEN\" }, spare = { stored = true } }\n\n\
         [[endpoint]]\nname = \"lit\"\nurl = \"ws://h/\"\non_connect = [\"40{\\\"token\\\":\\\"{{secret:t}}\\\"}\"]\n\
         secret_vars = { t = \"lit-s3cret\" }\n",
        "v.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let resolved = config
        .resolve(&env_of(&[("GQL_TOKEN", "env-t0ken.1")]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        resolved[0].endpoint.secret_vars,
        [
            SecretVar::new("token", "env-t0ken.1"),
            SecretVar::new("spare", "")
        ]
    );
    assert_eq!(resolved[0].stored_vars, ["spare"]);
    assert!(resolved[0].warnings.is_empty());
    // The placeholder stays in the configuration; only the probe puts the value in.
    assert!(
        matches!(&resolved[0].endpoint.on_connect[0], Step::Send(p) if p.contains("{{secret:token}}"))
    );
    assert_eq!(
        resolved[0]
            .endpoint
            .expand_secrets(resolved[0].endpoint.on_connect[0].payload().unwrap())
            .unwrap(),
        r#"{"type":"connection_init","payload":{"authToken":"env-t0ken.1"}}"#
    );
    // A literal works, with the same warning as a literal secret query value.
    assert_eq!(
        resolved[1].endpoint.secret_vars,
        [SecretVar::new("t", "lit-s3cret")]
    );
    let warnings: Vec<String> = resolved[1]
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        warnings,
        ["v.toml:12: endpoint 2 (lit): secret_vars.t: the value is written in this file; keep it out with `{ env = \"VAR\" }` or `{ stored = true }`"]
    );
    assert!(!format!("{resolved:?}").contains("lit-s3cret"));
    assert!(!format!("{resolved:?}").contains("env-t0ken"));
    // The same tree in JSON; a store row names the value `{ stored = true }`.
    check_same(
        "[[endpoint]]\nname = \"a\"\nurl = \"ws://h/\"\non_connect = [\"{{secret:k}}\"]\n\
         secret_vars = { k = { env = \"TICKER_TOKEN\" } }\n",
        r#"{"endpoint": [{"name": "a", "url": "ws://h/", "on_connect": ["{{secret:k}}"],
            "secret_vars": {"k": {"env": "TICKER_TOKEN"}}}]}"#,
    );
    let row = EndpointSpec::from_endpoint(&resolved[0].endpoint).to_json();
    assert!(
        row.contains(r#""secret_vars":{"token":{"stored":true},"spare":{"stored":true}}"#),
        "{row}"
    );
    assert!(!row.contains("env-t0ken"), "{row}");
}

#[test]
fn secret_var_mistakes_name_the_key_without_the_value() {
    // A placeholder naming no secret value, in on_connect and the application heartbeat.
    check_error(
        Format::Toml,
        &format!(
            "{ENDPOINT}on_connect = [\"ok\", \"{{{{secret:tokn}}}}\"]\n\
             secret_vars = {{ token = {{ env = \"T\" }} }}\n\
             [endpoint.app_heartbeat]\npayload = \"{{{{secret:nope}}}}\"\nmatch = \"p\"\n"
        ),
        &[("T", "env-secret-value")],
        &[
            "heartline.toml:7: endpoint 1 (e): app_heartbeat.payload: no secret value \"nope\"",
            "heartline.toml:4: endpoint 1 (e): on_connect[1]: no secret value \"tokn\"",
        ],
    );
    // A bad name is reported at its key; a missing variable names the variable.
    check_error(
        Format::Toml,
        &format!(
            "{ENDPOINT}secret_vars = {{ \"a b\" = {{ env = \"T\" }}, token = {{ env = \"MISSING\" }} }}\n"
        ),
        &[("T", "env-secret-value")],
        &[
            "heartline.toml:4: endpoint 1 (e): secret_vars.token: environment variable `MISSING` is not set",
            "heartline.toml:4: endpoint 1 (e): secret_vars.\"a b\": name may hold only letters, digits, `_` and `-`",
        ],
    );
}

#[test]
fn exported_secret_vars_hold_no_value() {
    let mut e = Endpoint::new("gql", "wss://h/graphql");
    e.secret_vars = vec![SecretVar::new("token", "exp-t0ken-77")];
    e.on_connect = vec![r#"{"payload":{"authToken":"{{secret:token}}"}}"#.into()];
    let config = ConfigFile::from_endpoints(std::slice::from_ref(&e));
    for out in [config.to_toml(), config.to_json(), format!("{config:?}")] {
        assert!(!out.contains("exp-t0ken-77"), "{out}");
        assert!(out.contains("{{secret:token}}"), "{out}");
    }
    assert!(
        config
            .to_toml()
            .contains("secret_vars = { token = { stored = true } }"),
        "{}",
        config.to_toml()
    );
    let resolved = config.resolve(&no_env).unwrap();
    assert_eq!(resolved[0].stored_vars, ["token"]);
    assert_eq!(
        resolved[0].endpoint.secret_vars,
        [SecretVar::new("token", "")]
    );
}
