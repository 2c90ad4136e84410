# leakwatch container image. Build: docker build -t leakwatch .
# The build stage runs the same scripts as CI (scripts/setup.sh installs scripts/packages.txt).

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/ scripts/
RUN scripts/setup.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLEAKWATCH_BUILD_TESTS=OFF \
 && cmake --build /build --target leakwatch \
 && strip /build/daemon/leakwatch

FROM debian:bookworm-slim
COPY scripts/runtime-packages.txt /tmp/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(grep -v '^#' /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && useradd --system --uid 65532 --no-create-home --shell /usr/sbin/nologin leakwatch
COPY --from=build /build/daemon/leakwatch /usr/local/bin/leakwatch
COPY config/leakwatch.yml /etc/leakwatch/leakwatch.yml
USER 65532:65532
EXPOSE 9863
ENTRYPOINT ["/usr/local/bin/leakwatch"]
CMD ["--config.file=/etc/leakwatch/leakwatch.yml", "--web.listen-address=:9863"]
