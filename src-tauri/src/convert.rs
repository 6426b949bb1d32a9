//! The monitor's errors as IPC errors (`{code, message, fields}`). No I/O here.

use crate::dto::{ErrorCode, IpcError};

pub type IpcResult<T> = Result<T, IpcError>;

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        IpcError {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

impl From<heartline_monitor::Error> for IpcError {
    fn from(e: heartline_monitor::Error) -> Self {
        use heartline_monitor::ErrorKind as K;
        let code = match e.kind() {
            K::Invalid => ErrorCode::Invalid,
            K::NotFound => ErrorCode::NotFound,
            K::Duplicate => ErrorCode::Duplicate,
            K::Storage => ErrorCode::Storage,
            K::Engine => ErrorCode::Engine,
            K::Config => ErrorCode::Config,
            K::Export => ErrorCode::Export,
        };
        IpcError {
            code,
            message: e.to_string(),
            fields: e.field_problems(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heartline_core::Endpoint;

    #[test]
    fn the_forms_protocol_list_is_the_cores() {
        // The UI's dropdown (ui/src/lib/protocols.ts) lists every preset by the same name and
        // label, so a choice made there always parses here.
        let ui = include_str!("../../ui/src/lib/protocols.ts");
        for p in heartline_core::Protocol::ALL {
            let entry = format!(r#"{{ name: "{}", label: "{}" }}"#, p.as_str(), p.label());
            assert!(ui.contains(&entry), "ui/src/lib/protocols.ts lacks {entry}");
        }
    }

    #[test]
    fn monitor_errors_keep_their_code_and_fields() {
        use heartline_monitor::Error;
        let missing = IpcError::from(Error::NotFound(3));
        assert_eq!(missing.code, ErrorCode::NotFound);
        assert!(missing.message.contains("#3"), "{}", missing.message);
        let invalid = IpcError::from(Error::Invalid(
            Endpoint::new("", "http://x")
                .validate()
                .expect_err("invalid"),
        ));
        assert_eq!(invalid.code, ErrorCode::Invalid);
        assert!(
            invalid.fields.iter().any(|f| f.field == "name"),
            "{:?}",
            invalid.fields
        );
        assert_eq!(
            IpcError::from(Error::Request("the window must end after it starts".into())).code,
            ErrorCode::Invalid
        );
    }
}
