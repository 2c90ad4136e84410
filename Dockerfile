# leakwatch container image: docker build -t leakwatch .
#
# There is no container engine on the development machines, so this file has not been built there. To keep
# it from drifting, its build steps are the scripts CI runs: `scripts/setup.sh build` installs the build
# package list (scripts/packages-build.txt; the test and benchmark lists are not needed here) and
# scripts/build.sh builds the leakwatch target in Release, with the tests off (LEAKWATCH_CMAKE_ARGS), so
# CMake looks for none of the test tools. The runtime stage installs no packages at all: it takes the
# binary's shared libraries from the build stage (scripts/collect-runtime-libs.sh copies every library `ldd`
# lists except glibc's, which bookworm-slim has), and the CA bundle.

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/ scripts/
RUN scripts/setup.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
# Read by scripts/build.sh: configure without the test suite (catch2, python3, go and promtool are absent).
ENV LEAKWATCH_CMAKE_ARGS="-DLEAKWATCH_BUILD_TESTS=OFF"
RUN scripts/build.sh /build release leakwatch \
 && strip /build/daemon/leakwatch \
 && scripts/collect-runtime-libs.sh /build/daemon/leakwatch /out/lib

FROM debian:bookworm-slim
COPY --from=build /out/lib/ /usr/local/lib/leakwatch/
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /build/daemon/leakwatch /usr/local/bin/leakwatch
COPY config/leakwatch.yml /etc/leakwatch/leakwatch.yml
# check-config fails the build if a library is missing or the default config is invalid.
RUN echo /usr/local/lib/leakwatch > /etc/ld.so.conf.d/leakwatch.conf \
 && ldconfig \
 && useradd --system --uid 65532 --user-group --no-create-home --shell /usr/sbin/nologin leakwatch \
 && /usr/local/bin/leakwatch check-config /etc/leakwatch/leakwatch.yml
# OpenSSL's default CA paths (/usr/lib/ssl) come from the openssl package, which the image does not have.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 9863
ENTRYPOINT ["/usr/local/bin/leakwatch"]
CMD ["--config.file=/etc/leakwatch/leakwatch.yml", "--web.listen-address=:9863"]
