//! Each preset's behaviour: what to send on open, what a server message means, the client's
//! heartbeat, and the preset's own close codes.

use std::time::Duration;

use serde_json::Value;

use super::json::{parse, reason, str_field};
use super::{
    mqtt, Beat, CloseMeaning, Frame, Protocol, ProtocolSession, Reaction, RefusalClass,
    SessionParams,
};

/// SignalR's record separator (ASCII 0x1e) ends every JSON hub message.
const RS: char = '\u{1e}';

pub(super) fn on_open(protocol: Protocol, params: &SessionParams) -> (Vec<Frame>, bool) {
    let text = |s: &str| vec![Frame::Text(s.to_owned())];
    match protocol {
        Protocol::WebSocket | Protocol::Phoenix => (Vec::new(), true),
        // Engine.IO: the server speaks first (the open packet).
        Protocol::SocketIo | Protocol::SocketIo3 => (Vec::new(), false),
        // Pusher and ActionCable: the server speaks first too.
        Protocol::Pusher | Protocol::ActionCable => (Vec::new(), false),
        Protocol::GraphqlTransportWs | Protocol::SubscriptionsTransportWs => {
            (text(r#"{"type":"connection_init","payload":{}}"#), false)
        }
        Protocol::Mqtt | Protocol::Mqtt5 => (
            vec![Frame::Binary(mqtt::connect(
                &params.client_id,
                mqtt_keep_alive(params.heartbeat),
                mqtt_version(protocol),
            ))],
            false,
        ),
        Protocol::SignalR => (
            text(&format!(r#"{{"protocol":"json","version":1}}{RS}"#)),
            false,
        ),
        Protocol::Stomp => {
            let beat = params.heartbeat.as_millis();
            let host: String = params
                .host
                .chars()
                .filter(|c| !matches!(c, '\n' | '\r' | ':' | '\0'))
                .collect();
            (
                text(&format!(
                    "CONNECT\naccept-version:1.2\nhost:{host}\nheart-beat:{beat},{beat}\n\n\0"
                )),
                false,
            )
        }
    }
}

/// MQTT keep-alive: twice the client's heartbeat, whole seconds, so a broker that allows
/// 1.5 × keep-alive never drops a client that pings on time.
pub(super) fn mqtt_keep_alive(heartbeat: Duration) -> Duration {
    Duration::from_secs(heartbeat.as_secs_f64().mul_add(2.0, 0.999) as u64)
        .max(Duration::from_secs(1))
}

fn mqtt_version(protocol: Protocol) -> mqtt::Version {
    if protocol == Protocol::Mqtt5 {
        mqtt::Version::V5
    } else {
        mqtt::Version::V311
    }
}

pub(super) fn ping(s: &mut ProtocolSession) -> Option<Frame> {
    let text = |t: &str| Some(Frame::Text(t.to_owned()));
    match s.protocol {
        Protocol::WebSocket
        | Protocol::SocketIo
        | Protocol::SubscriptionsTransportWs
        | Protocol::ActionCable => None,
        Protocol::SocketIo3 => text("2"),
        Protocol::GraphqlTransportWs => text(r#"{"type":"ping"}"#),
        Protocol::Mqtt | Protocol::Mqtt5 => Some(Frame::Binary(mqtt::PINGREQ.to_vec())),
        Protocol::Pusher => text(r#"{"event":"pusher:ping","data":{}}"#),
        Protocol::Phoenix => {
            s.next_ref += 1;
            s.outstanding_ref = Some(s.next_ref);
            Some(Frame::Text(format!(
                r#"[null,"{}","phoenix","heartbeat",{{}}]"#,
                s.next_ref
            )))
        }
        Protocol::SignalR => Some(Frame::Text(format!(r#"{{"type":6}}{RS}"#))),
        Protocol::Stomp => text("\n"),
    }
}

pub(super) fn on_message(s: &mut ProtocolSession, frame: &Frame) -> Reaction {
    match s.protocol {
        Protocol::WebSocket => Reaction::app(),
        Protocol::SocketIo => socketio(frame, 4, s.init.as_ref()),
        Protocol::SocketIo3 => socketio(frame, 3, None),
        Protocol::GraphqlTransportWs => graphql_transport_ws(frame),
        Protocol::SubscriptionsTransportWs => subscriptions_transport_ws(frame),
        Protocol::Mqtt | Protocol::Mqtt5 => mqtt_message(frame, mqtt_version(s.protocol)),
        Protocol::ActionCable => actioncable(frame),
        Protocol::Pusher => pusher(frame),
        Protocol::Phoenix => phoenix(s, frame),
        Protocol::SignalR => signalr(s.ready, frame),
        Protocol::Stomp => stomp(frame, s.params.heartbeat),
    }
}

/// Engine.IO packets (socketio/engine.io-protocol): `0` open, `1` close, `2` ping, `3` pong,
/// `4` message carrying a Socket.IO packet (`40` connect, `41` disconnect, `44` connect
/// error, `42` event, …), `6` noop.
fn socketio(frame: &Frame, eio: u8, init: Option<&Frame>) -> Reaction {
    let Frame::Text(text) = frame else {
        // Binary attachments of Socket.IO events.
        return Reaction::app();
    };
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some('0'), _) => {
            let mut r = Reaction::housekeeping();
            if let Some(open) = parse(&text[1..]) {
                let ms = |k: &str| open.get(k).and_then(Value::as_u64);
                if let (Some(interval), Some(timeout)) = (ms("pingInterval"), ms("pingTimeout")) {
                    if eio == 4 {
                        r.beat_deadline =
                            Some(Duration::from_millis(interval.saturating_add(timeout)));
                    }
                }
            }
            if eio == 4 {
                // Connect to the main namespace (Socket.IO protocol v5), with the user's auth
                // payload when one was configured.
                r.replies
                    .push(init.cloned().unwrap_or_else(|| Frame::Text("40".into())));
            }
            r
        }
        (Some('2'), None) if eio == 4 => Reaction::server_beat(vec![Frame::Text("3".into())]),
        (Some('3'), None) if eio == 3 => Reaction::pong(),
        (Some('4'), Some('0')) => Reaction::ready(),
        (Some('4'), Some('4')) => {
            // `44{"message":"…"}` or `44/ns,{"message":"…"}`.
            let body = &text[2..];
            let json = body.find(['{', '"']).map_or(body, |at| &body[at..]);
            let why = reason(parse(json).as_ref());
            let why = if why.is_empty() {
                "connect_error".to_owned()
            } else {
                why
            };
            Reaction::refused(RefusalClass::from_reason(&why), why)
        }
        (Some('4'), Some('1')) => Reaction::refused(
            RefusalClass::Other,
            "the server disconnected the client from the namespace",
        ),
        (Some('4'), _) => Reaction::app(),
        _ => Reaction::housekeeping(),
    }
}

/// graphql-transport-ws (enisdenjo/graphql-ws PROTOCOL.md).
fn graphql_transport_ws(frame: &Frame) -> Reaction {
    let Some(msg) = frame.as_text().and_then(parse) else {
        return Reaction::app();
    };
    match str_field(&msg, "type") {
        Some("connection_ack") => Reaction::ready(),
        Some("ping") => Reaction::server_beat(vec![Frame::Text(r#"{"type":"pong"}"#.into())]),
        Some("pong") => Reaction::pong(),
        _ => Reaction::app(),
    }
}

/// subscriptions-transport-ws (apollographql/subscriptions-transport-ws PROTOCOL.md).
fn subscriptions_transport_ws(frame: &Frame) -> Reaction {
    let Some(msg) = frame.as_text().and_then(parse) else {
        return Reaction::app();
    };
    match str_field(&msg, "type") {
        Some("connection_ack") => Reaction::ready(),
        Some("ka") => Reaction::server_beat(Vec::new()),
        Some("connection_error") => {
            let why = reason(msg.get("payload"));
            Reaction::refused(RefusalClass::from_reason(&why), why)
        }
        _ => Reaction::app(),
    }
}

/// MQTT packets from the broker; a frame may carry several. One that is not well formed is
/// traffic the preset does not understand (the application's), never a reason to panic.
fn mqtt_message(frame: &Frame, version: mqtt::Version) -> Reaction {
    let Frame::Binary(bytes) = frame else {
        return Reaction::app();
    };
    let Ok(packets) = mqtt::decode_all(bytes, version) else {
        return Reaction::app();
    };
    let v5 = version == mqtt::Version::V5;
    let mut out = Reaction::housekeeping();
    for packet in packets {
        match packet {
            mqtt::Packet::ConnAck {
                code: 0,
                properties,
            } => {
                out.ready = true;
                out.keep_alive = properties
                    .server_keep_alive
                    .map(|s| Duration::from_secs(u64::from(s)));
            }
            mqtt::Packet::ConnAck { code, properties } => {
                let (class, words) = mqtt::connack_refusal(code);
                let head = if v5 {
                    format!("CONNACK {code:#04x}: {words}")
                } else {
                    format!("CONNACK {code}: {words}")
                };
                return Reaction::refused(class, with_server_words(head, &properties));
            }
            mqtt::Packet::Disconnect { code, properties } => {
                let (class, words) = mqtt::disconnect_reason(code);
                let head = format!("DISCONNECT {code:#04x}: {words}");
                return Reaction::refused(class, with_server_words(head, &properties));
            }
            mqtt::Packet::PingResp => out.beat = Some(Beat::Pong),
            mqtt::Packet::Other => out.app = true,
        }
    }
    out
}

/// A refusal's reason with what the broker said about it (MQTT 5 Reason String and Server
/// Reference; untrusted text, cleaned by the probe like every server reason).
fn with_server_words(mut head: String, properties: &mqtt::Properties) -> String {
    if let Some(reason) = properties.reason.as_deref().filter(|r| !r.is_empty()) {
        head.push_str(&format!(" ({reason})"));
    }
    if let Some(to) = properties
        .server_reference
        .as_deref()
        .filter(|r| !r.is_empty())
    {
        head.push_str(&format!(", server reference {to}"));
    }
    head
}

/// ActionCable (rails/rails actioncable, `ActionCable::INTERNAL`).
fn actioncable(frame: &Frame) -> Reaction {
    let Some(msg) = frame.as_text().and_then(parse) else {
        return Reaction::app();
    };
    match str_field(&msg, "type") {
        Some("welcome") => Reaction::ready(),
        Some("ping") => Reaction::server_beat(Vec::new()),
        Some("confirm_subscription") => Reaction::housekeeping(),
        Some("reject_subscription") => {
            Reaction::refused(RefusalClass::Policy, "subscription rejected")
        }
        Some("disconnect") => {
            let why = str_field(&msg, "reason").unwrap_or("disconnect").to_owned();
            let class = match why.as_str() {
                "unauthorized" => RefusalClass::Credentials,
                "invalid_request" => RefusalClass::Protocol,
                "server_restart" => RefusalClass::ServerRestart,
                _ => RefusalClass::Other,
            };
            Reaction::refused(class, why)
        }
        _ => Reaction::app(),
    }
}

/// Pusher Channels protocol 7.
fn pusher(frame: &Frame) -> Reaction {
    let Some(msg) = frame.as_text().and_then(parse) else {
        return Reaction::app();
    };
    match str_field(&msg, "event") {
        Some("pusher:connection_established") => {
            let mut r = Reaction::ready();
            // `data` is itself JSON text: {"socket_id":"…","activity_timeout":120}.
            let data = msg.get("data").and_then(Value::as_str).and_then(parse);
            if let Some(secs) = data
                .as_ref()
                .and_then(|d| d.get("activity_timeout"))
                .and_then(Value::as_u64)
            {
                // Silence longer than the activity timeout plus the pong wait means trouble.
                r.beat_deadline = Some(Duration::from_secs(secs.saturating_add(30)));
            }
            r
        }
        Some("pusher:ping") => Reaction::server_beat(vec![Frame::Text(
            r#"{"event":"pusher:pong","data":{}}"#.into(),
        )]),
        Some("pusher:pong") => Reaction::pong(),
        Some("pusher:error") => {
            let data = match msg.get("data") {
                Some(Value::String(s)) => parse(s),
                other => other.cloned(),
            };
            let code = data
                .as_ref()
                .and_then(|d| d.get("code"))
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok());
            let words = reason(data.as_ref());
            let class = code
                .and_then(pusher_close)
                .and_then(|m| m.refusal)
                .unwrap_or_else(|| RefusalClass::from_reason(&words));
            let why = match code {
                Some(c) => format!("{c}: {words}"),
                None => words,
            };
            Reaction::refused(class, why)
        }
        Some(e) if e.starts_with("pusher_internal:") || e.starts_with("pusher:") => {
            Reaction::housekeeping()
        }
        _ => Reaction::app(),
    }
}

/// Phoenix Channels v2 serializer: `[join_ref, ref, topic, event, payload]`.
fn phoenix(s: &mut ProtocolSession, frame: &Frame) -> Reaction {
    let Some(Value::Array(parts)) = frame.as_text().and_then(parse) else {
        return Reaction::app();
    };
    let field = |i: usize| parts.get(i).and_then(Value::as_str);
    let status = parts
        .get(4)
        .and_then(|p| p.get("status"))
        .and_then(Value::as_str);
    match (field(2), field(3)) {
        (Some("phoenix"), Some("phx_reply")) => {
            let ours = field(1).and_then(|r| r.parse::<u64>().ok());
            if ours.is_some() && ours == s.outstanding_ref && status == Some("ok") {
                s.outstanding_ref = None;
                Reaction::pong()
            } else {
                Reaction::housekeeping()
            }
        }
        (Some(_), Some("phx_reply")) if status == Some("error") => {
            let why = reason(
                parts
                    .get(4)
                    .and_then(|p| p.get("response"))
                    .and_then(|r| r.get("reason")),
            );
            let why = if why.is_empty() {
                "join refused".to_owned()
            } else {
                why
            };
            Reaction::refused(RefusalClass::from_reason(&why), why)
        }
        _ => Reaction::app(),
    }
}

/// SignalR JSON hub protocol (dotnet/aspnetcore HubProtocol.md): records end with 0x1e.
fn signalr(ready: bool, frame: &Frame) -> Reaction {
    let Some(text) = frame.as_text() else {
        return Reaction::app();
    };
    let mut out = Reaction::housekeeping();
    let mut handshaking = !ready;
    for record in text.split(RS).filter(|r| !r.trim().is_empty()) {
        let Some(msg) = parse(record) else {
            out.app = true;
            continue;
        };
        if handshaking {
            handshaking = false;
            match str_field(&msg, "error") {
                Some(e) => {
                    let e = e.to_owned();
                    return Reaction::refused(RefusalClass::from_reason(&e), e);
                }
                None => out.ready = true,
            }
            continue;
        }
        match msg.get("type").and_then(Value::as_u64) {
            Some(6) => out.beat = Some(Beat::Server),
            Some(7) => {
                if let Some(e) = str_field(&msg, "error") {
                    let reconnect = msg.get("allowReconnect").and_then(Value::as_bool);
                    let class = match (RefusalClass::from_reason(e), reconnect) {
                        (RefusalClass::Other, Some(true)) => RefusalClass::ServerRestart,
                        (c, _) => c,
                    };
                    let e = e.to_owned();
                    return Reaction::refused(class, e);
                }
            }
            _ => out.app = true,
        }
    }
    out
}

/// STOMP 1.2 frames (stomp.github.io): a command line, headers, a blank line, a body, NUL.
fn stomp(frame: &Frame, heartbeat: Duration) -> Reaction {
    let Some(text) = frame.as_text() else {
        return Reaction::app();
    };
    if text.chars().all(|c| c == '\n' || c == '\r') {
        return Reaction::server_beat(Vec::new());
    }
    let body = text.trim_start_matches(['\n', '\r']);
    let mut lines = body.split('\n').map(|l| l.trim_end_matches('\r'));
    let command = lines.next().unwrap_or("");
    let header = |name: &str| {
        body.split('\n')
            .skip(1)
            .map(|l| l.trim_end_matches('\r'))
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
            .map(str::to_owned)
    };
    match command {
        "CONNECTED" => {
            let mut r = Reaction::ready();
            if let Some(hb) = header("heart-beat") {
                let mut parts = hb.split(',').map(|p| p.trim().parse::<u64>().unwrap_or(0));
                let sx = parts.next().unwrap_or(0);
                let cy = u64::try_from(heartbeat.as_millis()).unwrap_or(u64::MAX);
                if sx > 0 {
                    // Data expected every max(sx, cy); allow one beat of tolerance.
                    r.beat_deadline = Some(Duration::from_millis(sx.max(cy).saturating_mul(2)));
                }
            }
            r
        }
        "ERROR" => {
            let why = header("message").unwrap_or_else(|| "ERROR frame".to_owned());
            Reaction::refused(RefusalClass::from_reason(&why), why)
        }
        _ => Reaction::app(),
    }
}

pub(super) fn close_meaning(protocol: Protocol, code: u16) -> Option<CloseMeaning> {
    match protocol {
        Protocol::GraphqlTransportWs => graphql_close(code),
        Protocol::Pusher => pusher_close(code),
        _ => None,
    }
}

/// graphql-transport-ws close codes (PROTOCOL.md and the library's `CloseCode`).
fn graphql_close(code: u16) -> Option<CloseMeaning> {
    let (meaning, refusal) = match code {
        4400 => (
            "bad request: the server could not parse a message",
            Some(RefusalClass::Protocol),
        ),
        4401 => (
            "unauthorized: subscribed before the connection was acknowledged",
            Some(RefusalClass::Credentials),
        ),
        4403 => (
            "forbidden: the server refused the connection_init",
            Some(RefusalClass::Policy),
        ),
        4406 => (
            "subprotocol not acceptable: offer graphql-transport-ws",
            Some(RefusalClass::Protocol),
        ),
        4408 => (
            "connection initialisation timeout: no connection_init in time",
            Some(RefusalClass::Protocol),
        ),
        4409 => (
            "subscriber for this id already exists",
            Some(RefusalClass::Protocol),
        ),
        4429 => (
            "too many initialisation requests",
            Some(RefusalClass::Protocol),
        ),
        4499 => ("terminated", None),
        4500 => ("internal server error", None),
        4504 => ("connection acknowledgement timeout", None),
        _ => return None,
    };
    Some(CloseMeaning { meaning, refusal })
}

/// Pusher close codes: 4000–4099 do not reconnect, 4100–4199 reconnect after backing off,
/// 4200–4299 reconnect at once.
fn pusher_close(code: u16) -> Option<CloseMeaning> {
    let (meaning, refusal) = match code {
        4000 => (
            "the application only accepts TLS connections",
            RefusalClass::Policy,
        ),
        4001 => ("application does not exist", RefusalClass::Policy),
        4003 => ("application disabled", RefusalClass::Policy),
        4004 => (
            "application over its connection quota",
            RefusalClass::Policy,
        ),
        4005 => ("path not found", RefusalClass::Protocol),
        4006 => ("invalid version string format", RefusalClass::Protocol),
        4007 => ("unsupported protocol version", RefusalClass::Protocol),
        4008 => ("no protocol version supplied", RefusalClass::Protocol),
        4009 => ("connection is unauthorized", RefusalClass::Credentials),
        4002 | 4010..=4099 => ("refused: do not reconnect", RefusalClass::Policy),
        4100 => (
            "over capacity: reconnect after backing off",
            RefusalClass::Overload,
        ),
        4101..=4199 => ("reconnect after backing off", RefusalClass::Overload),
        4200 => ("generic reconnect immediately", RefusalClass::ServerRestart),
        4201 => (
            "pong reply not received: reconnect immediately",
            RefusalClass::ServerRestart,
        ),
        4202 => (
            "closed after inactivity: reconnect immediately",
            RefusalClass::ServerRestart,
        ),
        4203..=4299 => ("reconnect immediately", RefusalClass::ServerRestart),
        _ => return None,
    };
    Some(CloseMeaning {
        meaning,
        refusal: Some(refusal),
    })
}
