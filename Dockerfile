# Image for docker-compose.yml.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
COPY --from=build /src/target/release/kiln /usr/local/bin/kiln
ENTRYPOINT []
CMD ["kiln", "serve"]
