# shardsim's release binary on a slim base, for sweeps on a fleet (deploy/k8s/).
# Build:  docker build -t shardsim .
# Run:    docker run --rm -v "$PWD/reports:/reports" shardsim sweep --seeds 0..1000 --report /reports/sweep.json

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
# The README's build step; .cargo/config.toml (copied above) sets `--cfg madsim`.
RUN cargo build --release

FROM debian:bookworm-slim
COPY --from=build /src/target/release/shardsim /usr/local/bin/shardsim
WORKDIR /reports
ENTRYPOINT ["shardsim"]
CMD ["sweep", "--seeds", "0..200"]
