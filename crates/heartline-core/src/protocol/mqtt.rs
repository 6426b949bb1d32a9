//! MQTT 3.1.1 control packets the preset needs (OASIS MQTT 3.1.1 §2, §3.1, §3.2, §3.12, §3.13).

use std::time::Duration;

use super::RefusalClass;

pub(crate) const PINGREQ: [u8; 2] = [0xC0, 0x00];

/// A CONNECT packet: clean session, the given client identifier and keep-alive, no will, no
/// credentials.
pub(crate) fn connect(client_id: &str, keep_alive: Duration) -> Vec<u8> {
    let keep_alive = u16::try_from(keep_alive.as_secs().max(1)).unwrap_or(u16::MAX);
    // The identifier is at most 23 bytes in what every broker must accept (§3.1.3.1).
    let id: String = client_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(23)
        .collect();
    let mut variable = Vec::with_capacity(12 + id.len());
    variable.extend_from_slice(&[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02]);
    variable.extend_from_slice(&keep_alive.to_be_bytes());
    variable.extend_from_slice(&u16::try_from(id.len()).unwrap_or(0).to_be_bytes());
    variable.extend_from_slice(id.as_bytes());
    let mut packet = vec![0x10];
    encode_remaining_length(variable.len(), &mut packet);
    packet.extend_from_slice(&variable);
    packet
}

fn encode_remaining_length(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            break;
        }
    }
}

/// The packets a broker sends a client, as far as the monitor cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Packet {
    /// CONNACK with its return code (0 accepted).
    ConnAck {
        code: u8,
    },
    PingResp,
    /// MQTT 5 DISCONNECT from the broker, with its reason code.
    Disconnect {
        code: u8,
    },
    /// Anything else (PUBLISH, SUBACK, …): the application's traffic.
    Other,
    /// Not an MQTT packet (too short).
    Malformed,
}

pub(crate) fn decode(bytes: &[u8]) -> Packet {
    let Some(&first) = bytes.first() else {
        return Packet::Malformed;
    };
    // Skip the remaining-length bytes (at most four).
    let mut at = 1;
    while at < bytes.len().min(5) && bytes[at] & 0x80 != 0 {
        at += 1;
    }
    let body = bytes.get(at + 1..).unwrap_or(&[]);
    match first >> 4 {
        2 => match body.get(1) {
            Some(&code) => Packet::ConnAck { code },
            None => Packet::Malformed,
        },
        13 => Packet::PingResp,
        14 => Packet::Disconnect {
            code: body.first().copied().unwrap_or(0),
        },
        _ => Packet::Other,
    }
}

/// What a CONNACK return code (3.1.1) or reason code (5) means, and its class.
pub(crate) fn refusal(code: u8) -> (RefusalClass, &'static str) {
    match code {
        1 => (RefusalClass::Protocol, "unacceptable protocol version"),
        2 => (RefusalClass::Policy, "identifier rejected"),
        3 => (RefusalClass::Overload, "server unavailable"),
        4 => (RefusalClass::Credentials, "bad user name or password"),
        5 => (RefusalClass::Credentials, "not authorized"),
        0x84 => (RefusalClass::Protocol, "unsupported protocol version"),
        0x85 => (RefusalClass::Policy, "client identifier not valid"),
        0x86 => (RefusalClass::Credentials, "bad user name or password"),
        0x87 => (RefusalClass::Credentials, "not authorized"),
        0x88 => (RefusalClass::Overload, "server unavailable"),
        0x89 => (RefusalClass::Overload, "server busy"),
        0x8A => (RefusalClass::Policy, "banned"),
        0x8B => (RefusalClass::ServerRestart, "server shutting down"),
        0x8C => (RefusalClass::Credentials, "bad authentication method"),
        0x8D => (RefusalClass::Protocol, "keep alive timeout"),
        0x8E => (RefusalClass::Policy, "session taken over"),
        0x97 => (RefusalClass::Overload, "quota exceeded"),
        0x9C | 0x9D => (RefusalClass::ServerRestart, "use another server"),
        0x9F => (RefusalClass::Overload, "connection rate exceeded"),
        _ => (RefusalClass::Other, "refused"),
    }
}
