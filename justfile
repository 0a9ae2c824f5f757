# io-models: `just --list` shows every recipe. Each wraps a cargo command you can run yourself.

# Every section's demo, in the order of the notes.
demo-all *ARGS:
    cargo lab demo-all {{ARGS}}

# The whole test suite, as CI runs it.
test:
    cargo test --workspace

# The side-by-side benchmark (writes docs/src/results.md).
bench *ARGS:
    cargo lab bench {{ARGS}}

# A model crate's server, e.g. `just server blocking-io --mode pool`.
server CRATE *ARGS:
    cargo run -q -p {{CRATE}} --bin server -- {{ARGS}}

# A model crate's client, e.g. `just client blocking-io --conns 100 --duration 2`.
client CRATE *ARGS:
    cargo run -q -p {{CRATE}} --bin client -- {{ARGS}}

# Build the book in docs/ and check its includes, anchors and links (needs mdbook).
docs:
    cargo lab docs

# Serve the book on localhost, rebuilding on every save.
serve-docs:
    mdbook serve docs

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
