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
fn mqtt5_connect_has_level_5_and_an_empty_property_block() {
    let mut s = session(Protocol::Mqtt5);
    let open = s.on_open();
    let [Frame::Binary(connect)] = open.as_slice() else {
        panic!("one binary CONNECT expected, got {open:?}");
    };
    // Fixed header, remaining length, "MQTT", level 5, clean start, keep-alive 10 s, no
    // properties, then the client identifier.
    assert_eq!(
        &connect[..13],
        &[0x10, 26, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 10, 0]
    );
    assert_eq!(&connect[13..15], &[0, 13]);
    assert_eq!(&connect[15..], b"heartlinetest");
    assert_eq!(Protocol::Mqtt5.subprotocol(), Some("mqtt"));
    assert!(s.take_init(&Frame::Binary(connect.clone())));
}

/// A v5 CONNACK: flags, reason code, then properties.
fn connack5(code: u8, props: &[u8]) -> Frame {
    let mut body = vec![0, code];
    body.push(u8::try_from(props.len()).expect("short properties"));
    body.extend_from_slice(props);
    let mut packet = vec![0x20, u8::try_from(body.len()).expect("short packet")];
    packet.extend_from_slice(&body);
    Frame::Binary(packet)
}

#[test]
fn mqtt5_connack_success_carries_the_server_keep_alive() {
    let mut s = session(Protocol::Mqtt5);
    s.on_open();
    // Receive Maximum 20, Server Keep Alive 3 s, a user property, Topic Alias Maximum 10.
    let props = [
        0x21, 0, 20, 0x13, 0, 3, 0x26, 0, 1, b'k', 0, 1, b'v', 0x22, 0, 10,
    ];
    let r = s.on_message(&connack5(0, &props));
    assert_eq!(
        r,
        Reaction {
            ready: true,
            keep_alive: Some(Duration::from_secs(3)),
            ..Reaction::default()
        }
    );
    assert!(s.is_ready());
    // Without the property the client keeps its own keep-alive.
    let mut s = session(Protocol::Mqtt5);
    check(&mut s, connack5(0, &[]), Reaction::ready());
    assert_eq!(s.ping(), Some(Frame::Binary(vec![0xC0, 0])));
    check(&mut s, Frame::Binary(vec![0xD0, 0]), Reaction::pong());
}

#[test]
fn the_client_beats_within_the_servers_keep_alive() {
    let s = Duration::from_secs;
    assert_eq!(client_beat_within(s(5), s(3)), Duration::from_millis(1500));
    assert_eq!(client_beat_within(s(5), s(60)), s(5));
    assert_eq!(client_beat_within(s(5), Duration::ZERO), s(5));
}

#[test]
fn mqtt5_connack_reason_codes_are_classed() {
    for (code, class, words) in [
        (
            0x86,
            RefusalClass::Credentials,
            "CONNACK 0x86: bad user name or password",
        ),
        (
            0x87,
            RefusalClass::Credentials,
            "CONNACK 0x87: not authorized",
        ),
        (0x89, RefusalClass::Overload, "CONNACK 0x89: server busy"),
        (0x97, RefusalClass::Overload, "CONNACK 0x97: quota exceeded"),
        (
            0x9F,
            RefusalClass::Overload,
            "CONNACK 0x9f: connection rate exceeded",
        ),
        (
            0x88,
            RefusalClass::Overload,
            "CONNACK 0x88: server unavailable",
        ),
        (0x8A, RefusalClass::Policy, "CONNACK 0x8a: banned"),
        (
            0x84,
            RefusalClass::Protocol,
            "CONNACK 0x84: unsupported protocol version",
        ),
        (0x80, RefusalClass::Other, "CONNACK 0x80: unspecified error"),
    ] {
        let mut s = session(Protocol::Mqtt5);
        check(&mut s, connack5(code, &[]), refused(class, words));
    }
    // The broker's Reason String goes with the reason (the probe cleans it).
    let mut s = session(Protocol::Mqtt5);
    let props = [0x1F, 0, 4, b'n', b'o', b'p', b'e'];
    check(
        &mut s,
        connack5(0x87, &props),
        refused(
            RefusalClass::Credentials,
            "CONNACK 0x87: not authorized (nope)",
        ),
    );
    // A 3.1.1-only broker answers an MQTT 5 CONNECT with a 3.1.1 CONNACK: return code 1.
    let mut s = session(Protocol::Mqtt5);
    let r = s.on_message(&Frame::Binary(vec![0x20, 2, 0, 1]));
    let refusal = r.refused.expect("a refusal");
    assert_eq!(refusal.class, RefusalClass::Protocol);
    assert!(refusal.reason.contains("3.1.1 only"), "{}", refusal.reason);
}

#[test]
fn mqtt5_disconnect_from_the_broker_ends_with_its_reason() {
    let disconnect = |code: u8, props: &[u8]| {
        let mut p = vec![0xE0, u8::try_from(2 + props.len()).expect("short"), code];
        p.push(u8::try_from(props.len()).expect("short"));
        p.extend_from_slice(props);
        Frame::Binary(p)
    };
    for (code, class, words) in [
        (
            0x8B,
            RefusalClass::ServerRestart,
            "DISCONNECT 0x8b: server shutting down",
        ),
        (
            0x8D,
            RefusalClass::Protocol,
            "DISCONNECT 0x8d: keep alive timeout",
        ),
        (
            0x8E,
            RefusalClass::Other,
            "DISCONNECT 0x8e: session taken over",
        ),
        (
            0x87,
            RefusalClass::Credentials,
            "DISCONNECT 0x87: not authorized",
        ),
        (
            0x9C,
            RefusalClass::ServerRestart,
            "DISCONNECT 0x9c: use another server",
        ),
        (
            0x00,
            RefusalClass::Other,
            "DISCONNECT 0x00: normal disconnection",
        ),
    ] {
        let mut s = session(Protocol::Mqtt5);
        check(&mut s, connack5(0, &[]), Reaction::ready());
        check(&mut s, disconnect(code, &[]), refused(class, words));
    }
    let mut s = session(Protocol::Mqtt5);
    let moved = [0x1C, 0, 6, b'b', b'r', b'o', b'k', b'e', b'r'];
    check(
        &mut s,
        disconnect(0x9D, &moved),
        refused(
            RefusalClass::ServerRestart,
            "DISCONNECT 0x9d: server moved, server reference broker",
        ),
    );
    // Remaining length 0 or 1: the reason code defaults to 0 or has no properties.
    check(
        &mut s,
        Frame::Binary(vec![0xE0, 1, 0x8B]),
        refused(
            RefusalClass::ServerRestart,
            "DISCONNECT 0x8b: server shutting down",
        ),
    );
}

#[test]
fn mqtt_frames_with_several_packets_are_read_in_order() {
    let mut s = session(Protocol::Mqtt5);
    // CONNACK then a PUBLISH in one frame.
    let mut both = vec![0x20, 3, 0, 0, 0];
    both.extend_from_slice(&[0x30, 5, 0, 1, b't', b'h', b'i']);
    let r = s.on_message(&Frame::Binary(both));
    assert!(r.ready && r.app && r.refused.is_none(), "{r:?}");
    // A PUBLISH then a PINGRESP: still the reply to our ping.
    let r = s.on_message(&Frame::Binary(vec![0x30, 3, 0, 1, b't', 0xD0, 0]));
    assert_eq!(r.beat, Some(Beat::Pong));
    assert!(r.app);
}

#[test]
fn malformed_mqtt_packets_are_errors_never_panics() {
    use super::mqtt::{decode, decode_all, Version};
    let bad: &[&[u8]] = &[
        &[],
        &[0x20],
        &[0x20, 0x80],
        &[0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        &[0x20, 3, 0, 0],
        &[0x20, 1, 0],
        &[0x21, 2, 0, 0],
        &[0xD0, 1, 0],
        &[0xD0, 0, 0xD0],
        // Property length longer than the packet, a truncated two-byte property, an unknown
        // property, a string cut short, a string that is not UTF-8.
        &[0x20, 3, 0, 0, 5],
        &[0x20, 5, 0, 0, 2, 0x13, 0],
        &[0x20, 4, 0, 0, 1, 0x7F],
        &[0x20, 7, 0, 0, 4, 0x1F, 0, 5, b'x'],
        &[0x20, 7, 0, 0, 4, 0x1F, 0, 1, 0xFF],
        &[0xE0, 3, 0x8B, 3, 0x26],
    ];
    for bytes in bad {
        assert!(
            decode_all(bytes, Version::V5).is_err(),
            "{bytes:02x?} should be malformed"
        );
    }
    // Under 3.1.1 a CONNACK is exactly two bytes.
    assert!(decode(&[0x20, 3, 0, 0, 0], Version::V311).is_err());
    // Every prefix of well-formed packets decodes or errs, never panics.
    let good = [
        0x20, 16, 0, 0, 13, 0x13, 0, 3, 0x26, 0, 1, b'k', 0, 1, b'v', 0x0B, 0x81, 0x01,
    ];
    for end in 0..=good.len() {
        let _ = decode_all(&good[..end], Version::V5);
        let _ = decode_all(&good[..end], Version::V311);
    }
    assert!(decode_all(&good, Version::V5).is_ok());
    // A malformed frame is traffic the preset does not understand, not a refusal.
    let mut s = session(Protocol::Mqtt5);
    check(&mut s, Frame::Binary(vec![0x20, 3, 0, 0]), Reaction::app());
    assert!(!s.is_ready());
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
