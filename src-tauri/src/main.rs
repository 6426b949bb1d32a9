// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    heartline_app::startup::mark("main");
    // WebKitGTK hands the POSIX locale to the page as `navigator.language = "C"`, which `Intl`
    // (and so every number and date the UI formats) rejects. A desktop session always has a
    // real locale; a bare one (CI, a service) gets English.
    let lang = std::env::var("LANG").unwrap_or_default();
    if lang.is_empty() || lang == "C" || lang == "POSIX" || lang.starts_with("C.") {
        std::env::set_var("LANG", "en_US.UTF-8");
    }
    heartline_app::run();
}
