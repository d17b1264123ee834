//! Rebuild when the embedded web app changes: its asset names carry content hashes, so a
//! new build adds and removes files, which `include_bytes!` alone would not notice.

fn main() {
    println!("cargo:rerun-if-changed=../web/dist");
    println!("cargo:rerun-if-changed=../web/dist/assets");
    println!("cargo:rerun-if-changed=../migrations");
}
