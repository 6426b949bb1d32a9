//! The MQTT control packets the presets need: MQTT 3.1.1 (OASIS, §2, §3.1, §3.2, §3.12,
//! §3.13) and MQTT 5 (OASIS, §1.5.5 variable byte integers, §2.2.2 properties, §3.1 CONNECT,
//! §3.2 CONNACK with its Server Keep Alive, §3.14 DISCONNECT).
//!
//! Decoding never panics: a packet that is cut short, longer than its frame says, or has a
//! property this code does not know is an error, and the caller treats it as traffic it does
//! not understand.

use std::fmt;
use std::time::Duration;

use super::RefusalClass;

pub(crate) const PINGREQ: [u8; 2] = [0xC0, 0x00];

/// Which MQTT a preset speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// MQTT 3.1.1: protocol level 4.
    V311,
    /// MQTT 5: protocol level 5, properties in CONNECT, CONNACK and DISCONNECT.
    V5,
}

/// A CONNECT packet: clean session (clean start), the given client identifier and
/// keep-alive, no will, no credentials; under MQTT 5 an empty property block.
pub(crate) fn connect(client_id: &str, keep_alive: Duration, version: Version) -> Vec<u8> {
    let keep_alive = u16::try_from(keep_alive.as_secs().max(1)).unwrap_or(u16::MAX);
    // The identifier is at most 23 bytes in what every broker must accept (§3.1.3.1).
    let id: String = client_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(23)
        .collect();
    let level = match version {
        Version::V311 => 4,
        Version::V5 => 5,
    };
    let mut variable = Vec::with_capacity(13 + id.len());
    variable.extend_from_slice(&[0x00, 0x04, b'M', b'Q', b'T', b'T', level, 0x02]);
    variable.extend_from_slice(&keep_alive.to_be_bytes());
    if version == Version::V5 {
        // Property length 0: no properties.
        variable.push(0x00);
    }
    variable.extend_from_slice(&u16::try_from(id.len()).unwrap_or(0).to_be_bytes());
    variable.extend_from_slice(id.as_bytes());
    let mut packet = vec![0x10];
    encode_variable_int(variable.len(), &mut packet);
    packet.extend_from_slice(&variable);
    packet
}

/// A variable byte integer (the remaining length, a property length): seven bits a byte,
/// the high bit saying another byte follows.
fn encode_variable_int(mut n: usize, out: &mut Vec<u8>) {
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

/// Why bytes are not an MQTT packet the presets understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Reads a variable byte integer at the start of `bytes`: its value and how many bytes it
/// took (at most four).
fn decode_variable_int(bytes: &[u8]) -> Result<(usize, usize), Malformed> {
    let mut value = 0usize;
    for (i, &byte) in bytes.iter().enumerate().take(4) {
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if bytes.len() >= 4 {
        Err(Malformed("variable byte integer longer than four bytes"))
    } else {
        Err(Malformed("truncated variable byte integer"))
    }
}

/// The MQTT 5 properties the monitor uses; the others are read past.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Properties {
    /// Server Keep Alive (0x13), in seconds: replaces the keep-alive the client asked for.
    pub server_keep_alive: Option<u16>,
    /// Reason String (0x1F): the server's words (untrusted).
    pub reason: Option<String>,
    /// Server Reference (0x1C): where to connect instead (untrusted).
    pub server_reference: Option<String>,
}

/// Reads a property block (its length, then the properties) that fills `bytes` exactly.
fn decode_properties(bytes: &[u8]) -> Result<Properties, Malformed> {
    let (len, used) = decode_variable_int(bytes)?;
    let block = bytes
        .get(used..)
        .filter(|rest| rest.len() == len)
        .ok_or(Malformed("property length does not match the packet"))?;
    let mut props = Properties::default();
    let mut at = 0;
    while at < block.len() {
        let (id, used) = decode_variable_int(&block[at..])?;
        at += used;
        let rest = &block[at..];
        let take = |n: usize| rest.get(..n).ok_or(Malformed("truncated property"));
        let size = match id {
            // Byte.
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => take(1)?.len(),
            // Two-byte integer.
            0x13 | 0x21 | 0x22 | 0x23 => {
                let v = take(2)?;
                if id == 0x13 {
                    props.server_keep_alive = Some(u16::from_be_bytes([v[0], v[1]]));
                }
                2
            }
            // Four-byte integer.
            0x02 | 0x11 | 0x18 | 0x27 => take(4)?.len(),
            // Variable byte integer (Subscription Identifier).
            0x0B => decode_variable_int(rest)?.1,
            // UTF-8 string, or binary data: a two-byte length, then the bytes.
            0x03 | 0x08 | 0x09 | 0x12 | 0x15 | 0x16 | 0x1A | 0x1C | 0x1F => {
                let (text, used) = length_prefixed(rest)?;
                match id {
                    0x1F => props.reason = Some(utf8(text)?),
                    0x1C => props.server_reference = Some(utf8(text)?),
                    _ => {}
                }
                used
            }
            // User Property: a pair of strings.
            0x26 => {
                let (_, first) = length_prefixed(rest)?;
                let (_, second) = length_prefixed(&rest[first..])?;
                first + second
            }
            _ => return Err(Malformed("unknown property")),
        };
        at += size;
    }
    Ok(props)
}

/// A two-byte length and that many bytes: the bytes and how many were read in all.
fn length_prefixed(bytes: &[u8]) -> Result<(&[u8], usize), Malformed> {
    let len = match bytes {
        [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
        _ => return Err(Malformed("truncated property")),
    };
    let text = bytes
        .get(2..2 + len)
        .ok_or(Malformed("truncated property"))?;
    Ok((text, 2 + len))
}

fn utf8(bytes: &[u8]) -> Result<String, Malformed> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Malformed("property text is not UTF-8"))
}

/// The packets a broker sends a client, as far as the monitor cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Packet {
    /// CONNACK with its return code (3.1.1) or reason code (5), 0 accepted.
    ConnAck {
        code: u8,
        properties: Properties,
    },
    PingResp,
    /// DISCONNECT from the broker (MQTT 5), with its reason code.
    Disconnect {
        code: u8,
        properties: Properties,
    },
    /// Anything else (PUBLISH, SUBACK, …): the application's traffic.
    Other,
}

/// The packets in one WebSocket frame (a frame may carry several, §6 of both
/// specifications), in order. An error for the first that is not well formed.
pub(crate) fn decode_all(mut bytes: &[u8], version: Version) -> Result<Vec<Packet>, Malformed> {
    let mut packets = Vec::with_capacity(1);
    loop {
        let (packet, used) = decode(bytes, version)?;
        packets.push(packet);
        bytes = &bytes[used..];
        if bytes.is_empty() {
            return Ok(packets);
        }
    }
}

/// The first packet in `bytes`, and how many bytes it took.
pub(crate) fn decode(bytes: &[u8], version: Version) -> Result<(Packet, usize), Malformed> {
    let Some(&first) = bytes.first() else {
        return Err(Malformed("empty frame"));
    };
    let (len, used) = decode_variable_int(&bytes[1..])?;
    let start = 1 + used;
    let body = start
        .checked_add(len)
        .and_then(|end| bytes.get(start..end))
        .ok_or(Malformed("packet shorter than its remaining length"))?;
    let (kind, flags) = (first >> 4, first & 0x0F);
    let packet = match kind {
        2 | 13 | 14 if flags != 0 => return Err(Malformed("reserved flags set")),
        2 => match (body, version) {
            ([_, code], _) => Packet::ConnAck {
                code: *code,
                properties: Properties::default(),
            },
            ([_, code, props @ ..], Version::V5) => Packet::ConnAck {
                code: *code,
                properties: decode_properties(props)?,
            },
            _ => return Err(Malformed("CONNACK of the wrong length")),
        },
        13 if body.is_empty() => Packet::PingResp,
        13 => return Err(Malformed("PINGRESP with a body")),
        14 => match body {
            [] => Packet::Disconnect {
                code: 0,
                properties: Properties::default(),
            },
            [code] => Packet::Disconnect {
                code: *code,
                properties: Properties::default(),
            },
            [code, props @ ..] => Packet::Disconnect {
                code: *code,
                properties: decode_properties(props)?,
            },
        },
        _ => Packet::Other,
    };
    Ok((packet, start + len))
}

/// What a refusing CONNACK return code (3.1.1) or reason code (5) means, and its class.
pub(crate) fn connack_refusal(code: u8) -> (RefusalClass, &'static str) {
    match code {
        1 => (
            RefusalClass::Protocol,
            "unacceptable protocol version (for an MQTT 5 CONNECT: the broker speaks 3.1.1 only)",
        ),
        2 => (RefusalClass::Policy, "identifier rejected"),
        3 => (RefusalClass::Overload, "server unavailable"),
        4 => (RefusalClass::Credentials, "bad user name or password"),
        5 => (RefusalClass::Credentials, "not authorized"),
        _ => reason_code(code),
    }
}

/// What a DISCONNECT reason code from the broker means, and its class.
pub(crate) fn disconnect_reason(code: u8) -> (RefusalClass, &'static str) {
    match code {
        0x00 => (RefusalClass::Other, "normal disconnection"),
        _ => reason_code(code),
    }
}

/// MQTT 5 reason codes of 0x80 and above (§2.4), as CONNACK and DISCONNECT use them.
fn reason_code(code: u8) -> (RefusalClass, &'static str) {
    match code {
        0x80 => (RefusalClass::Other, "unspecified error"),
        0x81 => (RefusalClass::Protocol, "malformed packet"),
        0x82 => (RefusalClass::Protocol, "protocol error"),
        0x83 => (RefusalClass::Other, "implementation specific error"),
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
        // Another connection with the same client identifier; ours are unique per process,
        // so reconnecting (with backoff) is the right answer.
        0x8E => (RefusalClass::Other, "session taken over"),
        0x8F => (RefusalClass::Protocol, "topic filter invalid"),
        0x90 => (RefusalClass::Protocol, "topic name invalid"),
        0x93 => (RefusalClass::Protocol, "receive maximum exceeded"),
        0x94 => (RefusalClass::Protocol, "topic alias invalid"),
        0x95 => (RefusalClass::Protocol, "packet too large"),
        0x96 => (RefusalClass::Overload, "message rate too high"),
        0x97 => (RefusalClass::Overload, "quota exceeded"),
        0x98 => (RefusalClass::Policy, "administrative action"),
        0x99 => (RefusalClass::Protocol, "payload format invalid"),
        0x9A => (RefusalClass::Protocol, "retain not supported"),
        0x9B => (RefusalClass::Protocol, "QoS not supported"),
        0x9C => (RefusalClass::ServerRestart, "use another server"),
        0x9D => (RefusalClass::ServerRestart, "server moved"),
        0x9E => (RefusalClass::Protocol, "shared subscriptions not supported"),
        0x9F => (RefusalClass::Overload, "connection rate exceeded"),
        0xA0 => (RefusalClass::ServerRestart, "maximum connect time"),
        0xA1 => (
            RefusalClass::Protocol,
            "subscription identifiers not supported",
        ),
        0xA2 => (
            RefusalClass::Protocol,
            "wildcard subscriptions not supported",
        ),
        _ => (RefusalClass::Other, "refused"),
    }
}
