//! The reference testee (`ringproof testee`), built with this crate so its tests can drive it.

fn main() {
    let code =
        ringproof_conformance::testee_ref::serve(std::io::stdin().lock(), std::io::stdout().lock());
    std::process::exit(code);
}
