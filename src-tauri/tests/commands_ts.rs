//! The TypeScript signatures of the Tauri commands, generated from the `#[tauri::command]`
//! functions themselves (`commands.rs`, parsed with syn), so that the UI's calls cannot drift
//! from what Rust registers: a renamed argument, a changed return type or a new command
//! changes `ui/src/lib/commands.ts`, and the `commands_are_current` test fails until it is
//! regenerated (`UPDATE_BINDINGS=1 cargo test -p heartline-app bindings`).
//!
//! The DTO types themselves come from ts-rs (`bindings.rs`); this file only maps the few Rust
//! types that appear directly in command signatures (ids, strings, `Vec`, `Option`, `()`).
//! Arguments the command takes from Tauri (state, the app handle) are not part of the call.
//! A test of its own (not part of the app): it only reads the sources.

use std::fmt::Write as _;

use syn::{FnArg, GenericArgument, Item, PathArguments, ReturnType, Type};

/// Where the generated file lives, relative to this crate.
pub const PATH: &str = "../ui/src/lib/commands.ts";

/// One command as the UI calls it.
#[derive(Debug, PartialEq, Eq)]
pub struct Command {
    /// The name Tauri registers (the Rust function's name).
    pub name: String,
    /// Argument names as the page sends them (camelCase, as Tauri expects) with their TS types.
    pub args: Vec<(String, String)>,
    /// What the promise resolves to (`IpcResult<T>` is `T`; failures are `IpcError`).
    pub returns: String,
}

/// Every `#[tauri::command]` function of `source`, in order.
pub fn commands(source: &str) -> Result<Vec<Command>, String> {
    let file = syn::parse_file(source).map_err(|e| format!("commands.rs does not parse: {e}"))?;
    let mut out = Vec::new();
    for item in file.items {
        let Item::Fn(f) = item else { continue };
        let is_command = f.attrs.iter().any(|a| {
            let segments: Vec<String> = a
                .path()
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            segments == ["tauri", "command"] || segments == ["command"]
        });
        if !is_command {
            continue;
        }
        let name = f.sig.ident.to_string();
        let mut args = Vec::new();
        for input in &f.sig.inputs {
            let FnArg::Typed(arg) = input else {
                return Err(format!("{name}: a command cannot take self"));
            };
            if is_injected(&arg.ty) {
                continue;
            }
            let syn::Pat::Ident(ident) = &*arg.pat else {
                return Err(format!("{name}: arguments must be plain names"));
            };
            let ty = ts_type(&arg.ty).map_err(|e| format!("{name}({}): {e}", ident.ident))?;
            args.push((camel(&ident.ident.to_string()), ty));
        }
        let returns = match &f.sig.output {
            ReturnType::Default => "void".to_owned(),
            ReturnType::Type(_, ty) => match unwrap_result(ty) {
                Some(ok) => ts_type(ok),
                None => ts_type(ty),
            }
            .map_err(|e| format!("{name} -> {e}"))?,
        };
        out.push(Command {
            name,
            args,
            returns,
        });
    }
    Ok(out)
}

/// The names in `tauri::generate_handler![...]` of `lib.rs`, in order.
pub fn registered(lib_source: &str) -> Vec<String> {
    let Some(start) = lib_source.find("generate_handler![") else {
        return Vec::new();
    };
    let rest = &lib_source[start + "generate_handler![".len()..];
    let list = &rest[..rest.find(']').unwrap_or(rest.len())];
    list.split(',')
        .map(|s| s.trim().rsplit("::").next().unwrap_or_default().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The whole generated file for `commands`, importing the named DTO types from bindings.ts.
pub fn render(commands: &[Command]) -> String {
    let mut types: Vec<String> = commands
        .iter()
        .flat_map(|c| {
            c.args
                .iter()
                .map(|(_, t)| t.as_str())
                .chain([c.returns.as_str()])
        })
        .flat_map(|t| t.split(|c: char| !c.is_alphanumeric() && c != '_'))
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase) && *w != "Array")
        .map(str::to_owned)
        .collect();
    types.sort();
    types.dedup();
    let mut out = String::from(
        "// Generated from the #[tauri::command] functions in src-tauri/src/commands.rs; do not edit.\n\
         // Regenerate: UPDATE_BINDINGS=1 cargo test -p heartline-app bindings\n\n",
    );
    let _ = writeln!(
        out,
        "import type {{ {} }} from \"./bindings\";\n",
        types.join(", ")
    );
    out.push_str(
        "/** How a command is sent: `invoke` with errors turned into `IpcError` (see ipc.ts). */\n\
         export type Call = <T>(command: string, args?: Record<string, unknown>) => Promise<T>;\n\n\
         /** Every command the app registers, typed as Rust declares it. */\n\
         export function commands(call: Call) {\n  return {\n",
    );
    for c in commands {
        let params: Vec<String> = c.args.iter().map(|(n, t)| format!("{n}: {t}")).collect();
        let names: Vec<&str> = c.args.iter().map(|(n, _)| n.as_str()).collect();
        let args = if names.is_empty() {
            String::new()
        } else {
            format!(", {{ {} }}", names.join(", "))
        };
        let _ = writeln!(
            out,
            "    {}: ({}) => call<{}>({:?}{args}),",
            camel(&c.name),
            params.join(", "),
            c.returns,
            c.name
        );
    }
    out.push_str("  };\n}\n");
    out
}

/// Arguments Tauri fills in itself: its state, handle and window types. `Window` alone is the
/// DTO of a history window; Tauri's own is written `tauri::Window`.
fn is_injected(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    let names: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let last = names.last().map(String::as_str).unwrap_or_default();
    matches!(last, "State" | "AppHandle" | "Webview" | "WebviewWindow")
        || (names.first().map(String::as_str) == Some("tauri") && last == "Window")
}

/// `T` of `IpcResult<T>` or `Result<T, _>`.
fn unwrap_result(ty: &Type) -> Option<&Type> {
    let (name, args) = generic(ty)?;
    matches!(name.as_str(), "IpcResult" | "Result").then(|| args.first().copied())?
}

/// The last path segment's name and its type arguments.
fn generic(ty: &Type) -> Option<(String, Vec<&Type>)> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    let args = match &seg.arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((seg.ident.to_string(), args))
}

/// The TypeScript type of a Rust type in a command signature, as serde sends it.
fn ts_type(ty: &Type) -> Result<String, String> {
    if let Type::Tuple(t) = ty {
        return if t.elems.is_empty() {
            Ok("void".into())
        } else {
            Err("tuples are not used across IPC".into())
        };
    }
    if let Type::Reference(r) = ty {
        return ts_type(&r.elem);
    }
    let (name, args) = generic(ty).ok_or("an unsupported type")?;
    Ok(match (name.as_str(), args.as_slice()) {
        (
            "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "f32" | "f64",
            [],
        ) => "number".into(),
        ("String" | "str" | "PathBuf", []) => "string".into(),
        ("bool", []) => "boolean".into(),
        ("Vec", [inner]) => format!("Array<{}>", ts_type(inner)?),
        ("Option", [inner]) => format!("{} | null", ts_type(inner)?),
        (dto, []) if dto.chars().next().is_some_and(char::is_uppercase) => dto.to_owned(),
        (other, _) => return Err(format!("`{other}` has no TypeScript mapping here")),
    })
}

/// `snake_case` → `camelCase`, as Tauri renames command arguments.
fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn command_bindings_map_signatures_as_serde_sends_them() {
        let source = r#"
            #[tauri::command]
            pub async fn endpoint_detail(app: State<'_, App>, id: u64, window: Window) -> IpcResult<Detail> { todo!() }
            #[tauri::command]
            pub fn export_endpoints(app: State<'_, App>, format: ConfigFormat) -> String { todo!() }
            #[tauri::command]
            pub fn forget(handle: tauri::AppHandle, w: tauri::Window, last_seen: Option<u64>) -> IpcResult<()> { todo!() }
            pub fn helper(x: u64) -> u64 { x }
        "#;
        let got = commands(source).unwrap();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(
            got[0].args,
            [
                ("id".into(), "number".into()),
                ("window".into(), "Window".into())
            ]
        );
        assert_eq!(got[0].returns, "Detail");
        assert_eq!(got[1].args, [("format".into(), "ConfigFormat".into())]);
        assert_eq!(got[1].returns, "string");
        assert_eq!(got[2].args, [("lastSeen".into(), "number | null".into())]);
        assert_eq!(got[2].returns, "void");
        let ts = render(&got);
        assert!(
            ts.contains("import type { ConfigFormat, Detail, Window } from \"./bindings\";"),
            "{ts}"
        );
        assert!(ts.contains("    endpointDetail: (id: number, window: Window) => call<Detail>(\"endpoint_detail\", { id, window }),"), "{ts}");
        assert!(
            ts.contains(
                "    forget: (lastSeen: number | null) => call<void>(\"forget\", { lastSeen }),"
            ),
            "{ts}"
        );
        assert!(commands("pub fn broken(").is_err());
    }

    #[test]
    fn command_bindings_are_current_and_match_the_registered_commands() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let source = std::fs::read_to_string(dir.join("src/commands.rs")).unwrap();
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        let found = commands(&source).unwrap();
        let mut generated: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
        let mut handled = registered(&lib);
        generated.sort_unstable();
        handled.sort();
        assert_eq!(
            generated, handled,
            "generate_handler! in lib.rs and the commands in commands.rs differ"
        );

        let path = dir.join(PATH);
        let fresh = render(&found);
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).expect("write commands.ts");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is out of date: run UPDATE_BINDINGS=1 cargo test -p heartline-app bindings",
            path.display()
        );
    }
}
