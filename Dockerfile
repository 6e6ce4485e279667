# syntax=docker/dockerfile:1
#
# The catalk relay as a container image: one static binary, `catalk-relay`, with the web app
# embedded, on an empty base image, run as a non-root user.
#
# Built by `fly deploy` (on fly.io's remote builder) or by any Docker engine:
#   docker build -t catalk-relay .
#   docker run -p 8080:8080 -v catalk-data:/data catalk-relay
# Our CI machines have no Docker engine, so CI does not build this file; relay/tests/deploy.rs
# only checks that it is here and names the binary.

# Node.js for npm, which installs binaryen's wasm-opt (e2e/package.json) for the web build.
# Taken from the official image because Debian bookworm's nodejs is 18 and e2e's lockfile also
# holds playwright-core, which wants Node 20 or newer.
FROM node:22-bookworm-slim AS nodejs

FROM rust:1.95-bookworm AS builder
# musl-tools provides musl-gcc, the C compiler ring's build script uses for the musl target.
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/*
COPY --from=nodejs /usr/local/bin/node /usr/local/bin/node
COPY --from=nodejs /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && node --version && npm --version
RUN rustup target add wasm32-unknown-unknown x86_64-unknown-linux-musl
# Same version as WASM_BINDGEN_VERSION in xtask/src/tools.rs and the wasm-bindgen pin of
# client-wasm. No --locked: see xtask/src/tools.rs.
RUN cargo install wasm-bindgen-cli --version 0.2.130

WORKDIR /src
COPY . .
# What `cargo xtask dist` does, but for the static musl target: build web/dist (wasm client,
# wasm-bindgen, wasm-opt), which the relay's build script embeds, then the release relay.
RUN cargo xtask web \
    && cargo build --release --locked --package catalk-relay --target x86_64-unknown-linux-musl \
    && mkdir -p /staging/data \
    && cp target/x86_64-unknown-linux-musl/release/catalk-relay /staging/catalk-relay

FROM scratch
COPY --from=builder /staging/catalk-relay /usr/local/bin/catalk-relay
# A directory the relay's user may write to. On fly.io the key comes from the
# CATALK_RELAY_KEY secret; elsewhere mount a volume here so a generated key file survives.
COPY --from=builder --chown=10001:10001 /staging/data /data
WORKDIR /data
ENV CATALK_KEY_FILE=/data/catalk-relay.key
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/catalk-relay"]
