use std::time::Duration;

use super::*;

fn session(p: Protocol) -> ProtocolSession {
    ProtocolSession::new(
        p,
        SessionParams {
            host: "example.test".into(),
            client_id: "heartline-test".into(),
            heartbeat: Duration::from_secs(5),
        },
    )
}

fn text(s: &str) -> Frame {
    Frame::Text(s.to_owned())
}

/// Feeds `input` and checks the reaction.
fn check(s: &mut ProtocolSession, input: Frame, expected: Reaction) {
    let got = s.on_message(&input);
    assert_eq!(got, expected, "{:?} on {input:?}", s.protocol());
}

fn refused(class: RefusalClass, reason: &str) -> Reaction {
    Reaction::refused(class, reason)
}

#[test]
fn names_round_trip_and_unknown_names_are_explained() {
    for p in Protocol::ALL {
        assert_eq!(p.as_str().parse::<Protocol>(), Ok(p));
    }
    assert_eq!("Socket.IO".parse::<Protocol>(), Ok(Protocol::SocketIo));
    let err = "soap".parse::<Protocol>().unwrap_err();
    assert!(err.contains("unknown protocol `soap`") && err.contains("graphql-transport-ws"));
}

/// Over IPC a preset is its configuration name, exactly: serde and `as_str` agree for every
/// preset, and the people's aliases are not part of the wire.
#[test]
fn presets_serialize_by_their_configuration_names() {
    for p in Protocol::ALL {
        let json = serde_json::to_value(p).expect("serialize");
        assert_eq!(json, serde_json::Value::from(p.as_str()), "{p:?}");
        assert_eq!(serde_json::from_value::<Protocol>(json).ok(), Some(p));
    }
    assert!(serde_json::from_str::<Protocol>("\"Socket.IO\"").is_err());
}

#[test]
fn suggestions_from_url_and_subprotocol() {
    let s = |url: &str, subs: &[&str]| {
        suggest(
            url,
            &subs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        s("ws://h/socket.io/?EIO=4&transport=websocket", &[]),
        Some(Protocol::SocketIo)
    );
    assert_eq!(
        s("ws://h/socket.io/?EIO=3&transport=websocket", &[]),
        Some(Protocol::SocketIo3)
    );
    assert_eq!(s("wss://h/cable", &[]), Some(Protocol::ActionCable));
    assert_eq!(
        s("wss://h/socket/websocket?vsn=2.0.0", &[]),
        Some(Protocol::Phoenix)
    );
    assert_eq!(
        s("wss://ws.pusherapp.com/app/abc?protocol=7&client=js", &[]),
        Some(Protocol::Pusher)
    );
    assert_eq!(
        s("ws://h/graphql", &["graphql-transport-ws"]),
        Some(Protocol::GraphqlTransportWs)
    );
    assert_eq!(
        s("ws://h/graphql", &["graphql-ws"]),
        Some(Protocol::SubscriptionsTransportWs)
    );
    assert_eq!(s("ws://h/", &["mqtt"]), Some(Protocol::Mqtt));
    assert_eq!(s("ws://h/ws", &["v12.stomp"]), Some(Protocol::Stomp));
    assert_eq!(s("ws://h/feed", &[]), None);
    assert_eq!(s("not a url", &[]), None);
}

#[test]
fn payload_notation() {
    assert_eq!(Frame::parse("hex:C0 00"), Ok(Frame::Binary(vec![0xC0, 0])));
    assert_eq!(
        Frame::parse("base64:wAA="),
        Ok(Frame::Binary(vec![0xC0, 0]))
    );
    assert_eq!(Frame::parse("text:hex:x"), Ok(text("hex:x")));
    assert_eq!(Frame::parse("40"), Ok(text("40")));
    assert!(Frame::parse("hex:c0 0")
        .unwrap_err()
        .0
        .contains("odd number"));
    assert!(Frame::parse("hex:zz")
        .unwrap_err()
        .0
        .contains("`zz` is not a hex byte"));
    assert!(Frame::parse("base64:***")
        .unwrap_err()
        .0
        .contains("invalid base64"));
    for f in [
        Frame::Binary(vec![1, 2, 0xff]),
        text("hex:literally"),
        text("hi"),
    ] {
        assert_eq!(Frame::parse(&f.to_notation()), Ok(f));
    }
}

#[test]
fn socketio_v4_answers_server_pings_and_learns_the_schedule() {
    let mut s = session(Protocol::SocketIo);
    assert!(s.on_open().is_empty());
    assert_eq!(
        s.ping(),
        None,
        "no client ping before the namespace connect"
    );
    check(
        &mut s,
        text(r#"0{"sid":"x","upgrades":[],"pingInterval":1000,"pingTimeout":500,"maxPayload":1}"#),
        Reaction {
            replies: vec![text("40")],
            beat_deadline: Some(Duration::from_millis(1500)),
            ..Reaction::default()
        },
    );
    assert!(!s.is_ready());
    check(&mut s, text(r#"40{"sid":"y"}"#), Reaction::ready());
    assert!(s.is_ready());
    check(&mut s, text("2"), Reaction::server_beat(vec![text("3")]));
    check(&mut s, text(r#"42["tick",2]"#), Reaction::app());
    assert_eq!(s.ping(), None, "EIO 4: the server pings, never the client");
    assert!(!s.has_client_ping());
}

#[test]
fn socketio_connect_error_is_a_refusal_with_the_servers_reason() {
    let mut s = session(Protocol::SocketIo);
    check(
        &mut s,
        text(r#"44{"message":"not authorized: bad token"}"#),
        refused(RefusalClass::Credentials, "not authorized: bad token"),
    );
    check(
        &mut s,
        text(r#"44/admin,{"message":"room full"}"#),
        refused(RefusalClass::Other, "room full"),
    );
}

#[test]
fn socketio_v3_client_pings() {
    let mut s = session(Protocol::SocketIo3);
    check(
        &mut s,
        text(r#"0{"sid":"x","pingInterval":25000,"pingTimeout":5000}"#),
        Reaction::default(),
    );
    check(&mut s, text("40"), Reaction::ready());
    assert_eq!(s.ping(), Some(text("2")));
    check(&mut s, text("3"), Reaction::pong());
}

#[test]
fn graphql_transport_ws_handshake_pings_and_close_codes() {
    let mut s = session(Protocol::GraphqlTransportWs);
    assert_eq!(
        s.on_open(),
        vec![text(r#"{"type":"connection_init","payload":{}}"#)]
    );
    assert_eq!(s.ping(), None);
    check(
        &mut s,
        text(r#"{"type":"connection_ack"}"#),
        Reaction::ready(),
    );
    check(
        &mut s,
        text(r#"{"type":"ping"}"#),
        Reaction::server_beat(vec![text(r#"{"type":"pong"}"#)]),
    );
    assert_eq!(s.ping(), Some(text(r#"{"type":"ping"}"#)));
    check(&mut s, text(r#"{"type":"pong"}"#), Reaction::pong());
    check(
        &mut s,
        text(r#"{"id":"1","type":"next","payload":{}}"#),
        Reaction::app(),
    );
    let p = Protocol::GraphqlTransportWs;
    assert_eq!(
        p.close_meaning(4401).and_then(|m| m.refusal),
        Some(RefusalClass::Credentials)
    );
    assert_eq!(
        p.close_meaning(4403).and_then(|m| m.refusal),
        Some(RefusalClass::Policy)
    );
    assert!(p
        .close_meaning(4408)
        .unwrap()
        .meaning
        .contains("initialisation timeout"));
    assert_eq!(p.close_meaning(4500).and_then(|m| m.refusal), None);
    assert_eq!(p.close_meaning(4001), None);
    assert_eq!(Protocol::WebSocket.close_meaning(4401), None);
}

#[test]
fn subscriptions_transport_ws_keepalives_are_server_beats() {
    let mut s = session(Protocol::SubscriptionsTransportWs);
    assert_eq!(s.on_open().len(), 1);
    check(
        &mut s,
        text(r#"{"type":"connection_ack"}"#),
        Reaction::ready(),
    );
    check(
        &mut s,
        text(r#"{"type":"ka"}"#),
        Reaction::server_beat(vec![]),
    );
    assert_eq!(s.ping(), None);
    let mut s = session(Protocol::SubscriptionsTransportWs);
    check(
        &mut s,
        text(r#"{"type":"connection_error","payload":{"message":"Forbidden"}}"#),
        refused(RefusalClass::Policy, "Forbidden"),
    );
}

#[test]
fn mqtt_connect_connack_and_pings_are_binary() {
    let mut s = session(Protocol::Mqtt);
    let open = s.on_open();
    let [Frame::Binary(connect)] = open.as_slice() else {
        panic!("one binary CONNECT expected, got {open:?}");
    };
    // Fixed header, remaining length, "MQTT", level 4, clean session, keep-alive 10 s.
    assert_eq!(
        &connect[..12],
        &[0x10, 25, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 10]
    );
    assert_eq!(&connect[12..14], &[0, 13]);
    assert_eq!(&connect[14..], b"heartlinetest");
    check(
        &mut s,
        Frame::Binary(vec![0x20, 2, 0, 0]),
        Reaction::ready(),
    );
    assert_eq!(s.ping(), Some(Frame::Binary(vec![0xC0, 0])));
    check(&mut s, Frame::Binary(vec![0xD0, 0]), Reaction::pong());
    check(
        &mut s,
        Frame::Binary(vec![0x30, 5, 0, 1, b't', b'h', b'i']),
        Reaction::app(),
    );
    let mut s = session(Protocol::Mqtt);
    check(
        &mut s,
        Frame::Binary(vec![0x20, 2, 0, 5]),
        refused(RefusalClass::Credentials, "CONNACK 5: not authorized"),
    );
    check(
        &mut s,
        Frame::Binary(vec![0x20, 2, 0, 3]),
        refused(RefusalClass::Overload, "CONNACK 3: server unavailable"),
    );
}

#[test]
fn mqtt_keep_alive_covers_the_ping_interval() {
    for (beat, keep) in [(500, 1), (1000, 2), (1500, 3), (30_000, 60)] {
        assert_eq!(
            presets::mqtt_keep_alive(Duration::from_millis(beat)),
            Duration::from_secs(keep),
            "{beat} ms"
        );
    }
}

#[test]
fn actioncable_welcome_pings_and_disconnect_reasons() {
    let mut s = session(Protocol::ActionCable);
    assert!(s.on_open().is_empty());
    check(&mut s, text(r#"{"type":"welcome"}"#), Reaction::ready());
    check(
        &mut s,
        text(r#"{"type":"ping","message":1700000000}"#),
        Reaction::server_beat(vec![]),
    );
    check(
        &mut s,
        text(r#"{"identifier":"{}","message":{"n":1}}"#),
        Reaction::app(),
    );
    for (why, class) in [
        ("unauthorized", RefusalClass::Credentials),
        ("server_restart", RefusalClass::ServerRestart),
        ("invalid_request", RefusalClass::Protocol),
        ("remote", RefusalClass::Other),
    ] {
        check(
            &mut s,
            text(&format!(
                r#"{{"type":"disconnect","reason":"{why}","reconnect":true}}"#
            )),
            refused(class, why),
        );
    }
    assert_eq!(s.default_beat_deadline(), Some(Duration::from_secs(6)));
}

#[test]
fn pusher_established_pings_errors_and_close_ranges() {
    let mut s = session(Protocol::Pusher);
    check(
        &mut s,
        text(
            r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":120}"}"#,
        ),
        Reaction {
            ready: true,
            beat_deadline: Some(Duration::from_secs(150)),
            ..Reaction::default()
        },
    );
    check(
        &mut s,
        text(r#"{"event":"pusher:ping","data":{}}"#),
        Reaction::server_beat(vec![text(r#"{"event":"pusher:pong","data":{}}"#)]),
    );
    assert_eq!(s.ping(), Some(text(r#"{"event":"pusher:ping","data":{}}"#)));
    check(
        &mut s,
        text(r#"{"event":"pusher:pong","data":{}}"#),
        Reaction::pong(),
    );
    check(
        &mut s,
        text(r#"{"event":"pusher:error","data":{"message":"Invalid key","code":4009}}"#),
        refused(RefusalClass::Credentials, "4009: Invalid key"),
    );
    check(
        &mut s,
        text(r#"{"event":"tick","channel":"c","data":"{}"}"#),
        Reaction::app(),
    );
    let m = |c| Protocol::Pusher.close_meaning(c).and_then(|m| m.refusal);
    assert_eq!(m(4001), Some(RefusalClass::Policy));
    assert_eq!(m(4150), Some(RefusalClass::Overload));
    assert_eq!(m(4201), Some(RefusalClass::ServerRestart));
    assert_eq!(m(4301), None);
}

#[test]
fn phoenix_heartbeat_is_matched_by_reference() {
    let mut s = session(Protocol::Phoenix);
    assert!(s.on_open().is_empty());
    assert!(s.is_ready());
    assert_eq!(
        s.ping(),
        Some(text(r#"[null,"1","phoenix","heartbeat",{}]"#))
    );
    // A reply to another reference is not our pong.
    check(
        &mut s,
        text(r#"[null,"0","phoenix","phx_reply",{"status":"ok","response":{}}]"#),
        Reaction::default(),
    );
    check(
        &mut s,
        text(r#"[null,"1","phoenix","phx_reply",{"status":"ok","response":{}}]"#),
        Reaction::pong(),
    );
    check(
        &mut s,
        text(
            r#"["1","2","room:1","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]"#,
        ),
        refused(RefusalClass::Credentials, "unauthorized"),
    );
    check(
        &mut s,
        text(r#"["1",null,"room:1","new_msg",{}]"#),
        Reaction::app(),
    );
}

#[test]
fn signalr_handshake_pings_and_close_with_error() {
    let mut s = session(Protocol::SignalR);
    assert_eq!(
        s.on_open(),
        vec![text("{\"protocol\":\"json\",\"version\":1}\u{1e}")]
    );
    // The handshake answer and a first ping can share one frame.
    check(
        &mut s,
        text("{}\u{1e}{\"type\":6}\u{1e}"),
        Reaction {
            ready: true,
            beat: Some(Beat::Server),
            ..Reaction::default()
        },
    );
    assert_eq!(s.ping(), Some(text("{\"type\":6}\u{1e}")));
    assert!(!s.ping_expects_reply());
    check(
        &mut s,
        text("{\"type\":1,\"target\":\"tick\",\"arguments\":[]}\u{1e}"),
        Reaction::app(),
    );
    check(
        &mut s,
        text("{\"type\":7,\"error\":\"Server is shutting down\",\"allowReconnect\":true}\u{1e}"),
        refused(RefusalClass::ServerRestart, "Server is shutting down"),
    );
    let mut s = session(Protocol::SignalR);
    check(
        &mut s,
        text("{\"error\":\"Requested protocol 'json' is not available.\"}\u{1e}"),
        refused(
            RefusalClass::Other,
            "Requested protocol 'json' is not available.",
        ),
    );
}

#[test]
fn stomp_negotiates_heart_beats_and_reports_error_frames() {
    let mut s = session(Protocol::Stomp);
    assert_eq!(
        s.on_open(),
        vec![text(
            "CONNECT\naccept-version:1.2\nhost:example.test\nheart-beat:5000,5000\n\n\0"
        )]
    );
    check(
        &mut s,
        text("CONNECTED\nversion:1.2\nheart-beat:10000,10000\n\n\0"),
        Reaction {
            ready: true,
            beat_deadline: Some(Duration::from_secs(20)),
            ..Reaction::default()
        },
    );
    check(&mut s, text("\n"), Reaction::server_beat(vec![]));
    assert_eq!(s.ping(), Some(text("\n")));
    check(
        &mut s,
        text("MESSAGE\ndestination:/q\nmessage-id:1\nsubscription:0\n\nhi\0"),
        Reaction::app(),
    );
    check(
        &mut s,
        text("ERROR\nmessage:Bad CONNECT: access refused for user 'guest'\n\n\0"),
        refused(
            RefusalClass::Credentials,
            "Bad CONNECT: access refused for user 'guest'",
        ),
    );
}

#[test]
fn reasons_are_classified_by_their_words() {
    for (reason, class) in [
        ("Unauthorized", RefusalClass::Credentials),
        ("invalid token", RefusalClass::Credentials),
        ("Forbidden", RefusalClass::Policy),
        // subscriptions-transport-ws when onConnect returns false.
        ("Prohibited connection!", RefusalClass::Policy),
        ("not permitted", RefusalClass::Policy),
        ("Too many connections", RefusalClass::Overload),
        ("server restart", RefusalClass::ServerRestart),
        ("nope", RefusalClass::Other),
    ] {
        assert_eq!(RefusalClass::from_reason(reason), class, "{reason}");
    }
}

#[test]
fn the_bare_websocket_preset_changes_nothing() {
    let mut s = session(Protocol::WebSocket);
    assert!(s.on_open().is_empty());
    assert!(s.is_ready());
    assert_eq!(s.ping(), None);
    check(&mut s, text("2"), Reaction::app());
    check(&mut s, Frame::Binary(vec![0xD0, 0]), Reaction::app());
}

#[test]
fn the_users_handshake_message_replaces_the_presets() {
    let mut s = session(Protocol::SocketIo);
    assert!(s.take_init(&text(r#"40{"token":"abc"}"#)));
    assert!(s.on_open().is_empty());
    let r = s.on_message(&text(
        r#"0{"sid":"x","pingInterval":1000,"pingTimeout":500}"#,
    ));
    assert_eq!(r.replies, vec![text(r#"40{"token":"abc"}"#)]);

    let mut g = session(Protocol::GraphqlTransportWs);
    let init = text(r#"{"type":"connection_init","payload":{"token":"abc"}}"#);
    assert!(!g.take_init(&text(r#"{"id":"1","type":"subscribe","payload":{}}"#)));
    assert!(g.take_init(&init));
    assert_eq!(g.on_open(), vec![init]);

    let mut m = session(Protocol::Mqtt);
    let connect = Frame::Binary(vec![
        0x10, 0x0c, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xC2, 0, 30, 0, 0,
    ]);
    assert!(m.take_init(&connect));
    assert_eq!(m.on_open(), vec![connect]);

    let mut w = session(Protocol::WebSocket);
    assert!(
        !w.take_init(&text("40")),
        "a bare socket has no handshake to replace"
    );
}
